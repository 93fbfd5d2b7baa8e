package dev.sluice.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.Supplier;

/**
 * What the admin API did to the cache, for dashboards: warm jobs (jobs running and how they ended, keys by outcome,
 * bytes stored, fetches in flight) and purges (by kind, entries and bytes affected). The jobs' own JSON says the same
 * per job; these add up over jobs and outlive their keep-finished time.
 */
final class AdminMetrics {
    private final MeterRegistry registry;
    final Counter keysCached;
    final Counter keysSkipped;
    final Counter keysFailed;
    final Counter bytesStored;

    AdminMetrics(MeterRegistry registry) {
        this.registry = registry;
        keysCached = keys("cached");
        keysSkipped = keys("skipped");
        keysFailed = keys("failed");
        bytesStored = Counter.builder("sluice.warm.bytes").baseUnit("bytes")
                .description("Body bytes stored by warm jobs' fetches").register(registry);
    }

    private Counter keys(String outcome) {
        return Counter.builder("sluice.warm.keys").tag("outcome", outcome).description("Keys warm jobs tried, by"
                + " outcome (cached: fetched and stored; skipped: fresh already, or not stored by the cache's rules;"
                + " failed: refused, an error status, no answer)").register(registry);
    }

    /** The gauges of the jobs now: running (of those, paused for clients), and background fetches in flight. */
    void jobs(Supplier<Number> running, Supplier<Number> paused, Supplier<Number> inFlight) {
        Gauge.builder("sluice.warm.jobs", running).tag("state", "running")
                .description("Warm jobs now, by state (paused: running, waiting while clients wait for upstreams)")
                .register(registry);
        Gauge.builder("sluice.warm.jobs", paused).tag("state", "paused").register(registry);
        Gauge.builder("sluice.warm.fetches.in.flight", inFlight)
                .description("Background warm fetches in flight, all jobs together (cache.warm.max-in-flight at most)")
                .register(registry);
    }

    /** A job ended: done, failed or cancelled. */
    void ended(WarmJob.State state) {
        Counter.builder("sluice.warm.jobs.ended").tag("state", state.name().toLowerCase(java.util.Locale.ROOT))
                .description("Warm jobs that ended, by final state").register(registry).increment();
    }

    /** A purge by {@code kind} (url, prefix, tag), soft or not, and what it affected. */
    void purged(String kind, boolean soft, int entries, long bytes) {
        String mode = soft ? "soft" : "remove";
        Counter.builder("sluice.cache.purges").tag("kind", kind).tag("mode", mode)
                .description("Purges through the admin API, by kind (url, prefix, tag) and mode (remove, soft)")
                .register(registry).increment();
        Counter.builder("sluice.cache.purged.entries").tag("mode", mode)
                .description("Entries (variants) purges removed or marked stale").register(registry).increment(entries);
        Counter.builder("sluice.cache.purged.bytes").baseUnit("bytes").tag("mode", mode)
                .description("Body bytes of the entries purges removed or marked stale").register(registry)
                .increment(bytes);
    }
}
