package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig;
import io.netty.channel.EventLoop;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Fixed at start: the configuration Sluice started with (what its listeners, loops and cache are built from), meters,
 * log, and each loop's context. What a reload changes is in the {@link Generation}.
 */
final class ProxyContext {
    final SluiceConfig config;
    final Transports transports;
    final ProxyMetrics metrics;
    final AccessLog accessLog;
    /** The memory cache, or null when no route caches. */
    final CacheContext cache;
    /**
     * The generation of the last reload (or of the start): what the admin routes URLs by and what the next reload
     * compares with. Each loop has its own copy ({@link LoopContext#generation}), which the data path reads.
     */
    volatile Generation generation;
    private final Map<EventLoop, LoopContext> loops = new IdentityHashMap<>();

    ProxyContext(SluiceConfig config, Transports transports, ProxyMetrics metrics, AccessLog accessLog, CacheContext cache) {
        this.cache = cache;
        this.config = config;
        this.transports = transports;
        this.metrics = metrics;
        this.accessLog = accessLog;
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
