package dev.sluice.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/** The proxy's meters. Lookups on the request path are array reads; meters are created once per key. */
final class ProxyMetrics {
    /** How body bytes moved: stable lowercase names used in metrics and the access log. */
    enum Mechanism {
        COPY, SPLICE;

        final String label = name().toLowerCase(java.util.Locale.ROOT);
    }

    final MeterRegistry registry;
    final AtomicInteger clientConnections = new AtomicInteger();
    final Counter clientConnectionsTotal;
    final Counter localReplies;
    /** Connections closed at once because the count was already at limits.max-connections. */
    final Counter refusedLimit;
    /** Accepts that failed for lack of file descriptors (EMFILE, ENFILE); the client waits in the backlog. */
    final Counter refusedFd;
    /** Accepts that failed otherwise. */
    final Counter refusedError;
    /** Listening sockets not accepting now, because of the connection limit / after a failed accept. */
    final AtomicInteger pausedLimit = new AtomicInteger();
    final AtomicInteger pausedFd = new AtomicInteger();

    ProxyMetrics(MeterRegistry registry, String transport) {
        this.registry = registry;
        Gauge.builder("sluice.client.connections", clientConnections, AtomicInteger::get)
                .description("Open client connections").register(registry);
        clientConnectionsTotal = Counter.builder("sluice.client.connections.accepted")
                .description("Client connections accepted").register(registry);
        localReplies = Counter.builder("sluice.local.replies").description("Replies Sluice generated itself")
                .register(registry);
        refusedLimit = refused("limit");
        refusedFd = refused("fd_exhausted");
        refusedError = refused("error");
        Gauge.builder("sluice.listener.sockets.paused", pausedLimit, AtomicInteger::get)
                .description("Listening sockets not accepting now, by reason").tag("reason", "limit").register(registry);
        Gauge.builder("sluice.listener.sockets.paused", pausedFd, AtomicInteger::get)
                .description("Listening sockets not accepting now, by reason").tag("reason", "fd_exhausted")
                .register(registry);
        FunctionCounter.builder("sluice.buffer.leaks", BufferLeaks.class, c -> BufferLeaks.reports())
                .description("Distinct buffer leak reports (only while buffer-leak-detection is on)").register(registry);
        Gauge.builder("sluice.transport", () -> 1).description("Event loop transport in use")
                .tag("transport", transport).register(registry);
    }

    private Counter refused(String reason) {
        return Counter.builder("sluice.client.connections.refused")
                .description("limit: closed at once, accepted past limits.max-connections; fd_exhausted, error: failed accepts")
                .tag("reason", reason).register(registry);
    }

    /** The limits.max-connections in effect (configured or derived). */
    void connectionLimit(int max) {
        Gauge.builder("sluice.client.connections.max", () -> max)
                .description("limits.max-connections in effect (http and tcp client connections of the process)")
                .register(registry);
    }

    /** Event loops by the scheduling policy they actually run under (a refused batch stays normal). */
    void loops(int normal, int batch) {
        Gauge.builder("sluice.event.loops", () -> normal).description("Event loops by scheduling policy")
                .tag("scheduling", "normal").register(registry);
        Gauge.builder("sluice.event.loops", () -> batch).description("Event loops by scheduling policy")
                .tag("scheduling", "batch").register(registry);
    }

    private final java.util.concurrent.ConcurrentHashMap<String, AtomicInteger> upstreamOpen =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** Open connections to the servers of upstream group {@code name} (a gauge, registered at the first call). */
    AtomicInteger upstreamOpen(String name) {
        return upstreamOpen.computeIfAbsent(name, n -> {
            AtomicInteger open = new AtomicInteger();
            Gauge.builder("sluice.upstream.connections", open, AtomicInteger::get)
                    .description("Open connections to the group's servers").tag("upstream", n).strongReference(true)
                    .register(registry);
            return open;
        });
    }

    private final java.util.concurrent.ConcurrentHashMap<String, RouteMeters> routes = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The meters of route (or TCP listener) {@code name}, one object per name for the life of the process: a reload
     * that keeps a route keeps counting on the same meters.
     */
    RouteMeters routeMeters(String name) {
        return routes.computeIfAbsent(name, n -> new RouteMeters(registry, n));
    }

    /** Per-route meters; the status counters are created on first use (statuses 100-599). */
    static final class RouteMeters {
        private final MeterRegistry registry;
        private final String route;
        private final AtomicReferenceArray<Counter> byStatus = new AtomicReferenceArray<>(600);
        final Counter[] bytesIn = new Counter[Mechanism.values().length];
        final Counter[] bytesOut = new Counter[Mechanism.values().length];

        RouteMeters(MeterRegistry registry, String route) {
            this.registry = registry;
            this.route = route;
            for (Mechanism m : Mechanism.values()) {
                bytesIn[m.ordinal()] = bytes(m, "in");
                bytesOut[m.ordinal()] = bytes(m, "out");
            }
        }

        private Counter bytes(Mechanism m, String direction) {
            return Counter.builder("sluice.body.bytes")
                    .description("Body bytes moved, by direction (in = client to upstream) and mechanism")
                    .tag("route", route).tag("direction", direction).tag("mechanism", m.label).register(registry);
        }

        private final AtomicReferenceArray<Counter> lookups = new AtomicReferenceArray<>(CacheMetrics.Lookup.values().length);

        /** A cache lookup on this route and what it came to. */
        void lookup(CacheMetrics.Lookup result) {
            Counter c = lookups.get(result.ordinal());
            if (c == null) {
                c = Counter.builder("sluice.cache.lookups").description("Cache lookups by route and result")
                        .tag("route", route).tag("result", result.label).register(registry);
                lookups.set(result.ordinal(), c);
            }
            c.increment();
        }

        void request(int status) {
            int s = status >= 100 && status < 600 ? status : 0;
            Counter c = byStatus.get(s);
            if (c == null) {
                c = Counter.builder("sluice.requests").description("Requests by route and status")
                        .tag("route", route).tag("status", Integer.toString(status)).register(registry);
                byStatus.set(s, c);
            }
            c.increment();
        }
    }
}
