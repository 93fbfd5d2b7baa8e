package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig;
import io.netty.channel.EventLoop;
import java.util.IdentityHashMap;
import java.util.Map;

/** Immutable after start: configuration, meters, log, and each loop's context. */
final class ProxyContext {
    final SluiceConfig config;
    final Transports transports;
    final ProxyMetrics metrics;
    final AccessLog accessLog;
    final long requestHeadTimeoutNanos;
    final long idleTimeoutNanos;
    final int maxHeaderSize;
    final int maxTarget;
    final long maxRequestBody;
    final int maxResponseHeaderSize;
    private final Map<EventLoop, LoopContext> loops = new IdentityHashMap<>();

    ProxyContext(SluiceConfig config, Transports transports, ProxyMetrics metrics, AccessLog accessLog) {
        this.config = config;
        this.transports = transports;
        this.metrics = metrics;
        this.accessLog = accessLog;
        this.requestHeadTimeoutNanos = config.timeouts().requestHead().toNanos();
        this.idleTimeoutNanos = config.timeouts().idle().toNanos();
        this.maxHeaderSize = config.limits().maxHeaderSize();
        this.maxTarget = config.limits().maxRequestTarget();
        this.maxRequestBody = config.limits().maxRequestBody();
        this.maxResponseHeaderSize = config.limits().maxResponseHeaderSize();
    }

    void addLoop(LoopContext lc) {
        loops.put(lc.loop, lc);
    }

    LoopContext loop(EventLoop loop) {
        return loops.get(loop);
    }

    Iterable<LoopContext> loops() {
        return loops.values();
    }
}
