package dev.sluice.proxy;

import dev.sluice.splice.SendMechanism;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/** The cache's process-wide meters; lookups by route and result are {@link ProxyMetrics.RouteMeters#lookup}. */
final class CacheMetrics {
    /** What a lookup on a caching route came to: stable lowercase labels for metrics and the access log. */
    enum Lookup {
        /** Served from cache. */
        HIT,
        /** Nothing usable stored: went upstream (and stored the response when it could). */
        MISS,
        /**
         * A stored response too old for the request: validated with the origin (answered from cache on a 304, or
         * with the new response), served stale while revalidating or in place of an error.
         */
        STALE,
        /** Not looked up or not collapsible: a method, request directive or hit-for-pass sent it upstream. */
        PASS,
        /** Waited for another request's fill of the same key and was answered from it. */
        COALESCED;

        final String label = name().toLowerCase(java.util.Locale.ROOT);
    }

    final Counter[] hitBytes = new Counter[SendMechanism.values().length];
    /** Body bytes the tee fill spliced to the client that caused the miss (not from the cache's memory). */
    final Counter teeSentBytes;
    static final int FILL_RECEIVE = 0;
    static final int FILL_TEE = 1;
    static final int FILL_COPY = 2;
    /** Body bytes stored by fills, by path: received into the mapping, spliced in by a tee, copied in. */
    final Counter[] fillBytes = new Counter[3];
    private final MeterRegistry registry;
    final Counter fillsStarted;
    final Counter fillsCompleted;
    final Counter fillsAborted;
    /** Variants evicted to make room for a body a store could not allocate. */
    final Counter evictedForRoom;
    /** Storable bodies passed through uncached because no room could be made. */
    final Counter uncachedMemory;
    /** Storable bodies passed through uncached because they were too large or of unknown length. */
    final Counter uncachedSize;
    /** Validations of stored responses with the origin, by outcome ({@link Revalidated}). */
    final Counter[] revalidations = new Counter[Revalidated.values().length];

    /** How a validation of a stored response ended. */
    enum Revalidated {
        /** A 304 refreshed the stored head; the body was served from cache. */
        NOT_MODIFIED,
        /** A new response came instead (stored in place of the old one when it could be). */
        MODIFIED,
        /** The origin failed or did not answer: the stale response stood in (stale-if-error). */
        STALE_IF_ERROR,
        /** A stale response was served at once and a validation started in the background. */
        BACKGROUND,
        /** A 304 that did not select the stored response (another validator): asked again without conditions. */
        MISMATCH;

        final String label = name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    CacheMetrics(MeterRegistry registry, CacheContext cache) {
        for (SendMechanism m : SendMechanism.values()) {
            hitBytes[m.ordinal()] = Counter.builder("sluice.cache.sent.bytes")
                    .description("Body bytes sent from the cache's memory, by send mechanism")
                    .tag("mechanism", m.tag()).register(registry);
        }
        for (Revalidated r : Revalidated.values()) {
            revalidations[r.ordinal()] = Counter.builder("sluice.cache.revalidations")
                    .description("Validations of stored responses with the origin, by outcome")
                    .tag("outcome", r.label).register(registry);
        }
        this.registry = registry;
        teeSentBytes = Counter.builder("sluice.cache.sent.bytes")
                .description("Body bytes sent from the cache's memory, by send mechanism")
                .tag("mechanism", "tee").register(registry);
        String[] paths = {"receive", "tee", "copy"};
        for (int i = 0; i < paths.length; i++) {
            fillBytes[i] = Counter.builder("sluice.cache.fill.bytes")
                    .description("Body bytes stored by fills, by path: receive (read into the shared memory), tee "
                            + "(spliced in by cache.fill = tee), copy (arrived with the head, or a heap store)")
                    .tag("path", paths[i]).register(registry);
        }
        fillsStarted = fills(registry, "started");
        fillsCompleted = fills(registry, "completed");
        fillsAborted = fills(registry, "aborted");
        evictedForRoom = Counter.builder("sluice.cache.evictions.for.room")
                .description("Variants evicted because a store could not allocate a body").register(registry);
        uncachedMemory = uncached(registry, "memory");
        uncachedSize = uncached(registry, "size");
        FunctionCounter.builder("sluice.cache.evictions", cache.index, i -> i.evictions())
                .description("Keys evicted (by the budget or for room)").register(registry);
        FunctionCounter.builder("sluice.cache.evicted.bytes", cache.index, i -> i.evictedBytes())
                .description("Weight of the keys evicted").register(registry);
        Gauge.builder("sluice.cache.memory.bytes", cache, c -> {
                    var s = c.segments.stats();
                    return s.allocatedBytes() + s.drainingBytes() + c.index.headBytes();
                })
                .description("Cache memory by kind: used (bodies in the stores, draining ones included, plus heads and "
                        + "metadata), heads (heads and metadata), budget (cache.memory), stores (the stores' size, "
                        + "mapped at start), locked (mlocked store bytes)")
                .tag("kind", "used").register(registry);
        Gauge.builder("sluice.cache.memory.bytes", cache.index, i -> i.headBytes())
                .tag("kind", "heads").register(registry);
        Gauge.builder("sluice.cache.memory.bytes", cache.config, c -> c.memory())
                .tag("kind", "budget").register(registry);
        Gauge.builder("sluice.cache.memory.bytes", cache.segments, s -> s.stats().lockedBytes())
                .tag("kind", "locked").register(registry);
        Gauge.builder("sluice.cache.memory.bytes", cache.segments, s -> s.capacityBytes())
                .tag("kind", "stores").register(registry);
        Gauge.builder("sluice.cache.store.bytes", cache.segments, s -> s.stats().allocatedBytes())
                .description("Store bytes by state: allocated (live bodies), draining (freed, still being sent)")
                .tag("state", "allocated").register(registry);
        Gauge.builder("sluice.cache.store.bytes", cache.segments, s -> s.stats().drainingBytes())
                .tag("state", "draining").register(registry);
        Gauge.builder("sluice.cache.entries", cache.index, i -> i.keys())
                .description("Keys (URIs) in the index").register(registry);
        Gauge.builder("sluice.cache.fills.active", cache.fills, f -> f.size())
                .description("Fills in progress").register(registry);
    }

    /** Tee fills that received instead, by reason (a splice fallback reason, or leader-left). Not per byte. */
    Counter fillFallback(String reason) {
        return Counter.builder("sluice.cache.fill.fallbacks")
                .description("Fills under cache.fill = tee that received into the cache instead, by reason")
                .tag("reason", reason).register(registry);
    }

    private static Counter fills(MeterRegistry registry, String outcome) {
        return Counter.builder("sluice.cache.fills").description("Fills (misses stored as they pass) by outcome")
                .tag("outcome", outcome).register(registry);
    }

    private static Counter uncached(MeterRegistry registry, String reason) {
        return Counter.builder("sluice.cache.uncached")
                .description("Storable responses passed through uncached: memory (no room), size (too large or unknown length)")
                .tag("reason", reason).register(registry);
    }
}
