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
    /** The memory cache, or null when no route caches. */
    final CacheContext cache;
    final long requestHeadTimeoutNanos;
    final long idleTimeoutNanos;
    final int maxHeaderSize;
    final int maxTarget;
    final long maxRequestBody;
    final int maxResponseHeaderSize;
    /** Bytes a request body must bring in every {@link #bodyRateWindowNanos} (0: no minimum). */
    final long minBodyBytesPerWindow;
    final long bodyRateWindowNanos;
    private final Map<EventLoop, LoopContext> loops = new IdentityHashMap<>();

    ProxyContext(SluiceConfig config, Transports transports, ProxyMetrics metrics, AccessLog accessLog, CacheContext cache) {
        this.cache = cache;
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
        var rate = config.limits().minRequestBodyRate();
        this.bodyRateWindowNanos = rate.window().toNanos();
        this.minBodyBytesPerWindow = rate.enabled()
                ? Math.max(1, (long) (rate.bytesPerSecond() * (rate.window().toNanos() / 1e9))) : 0;
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
