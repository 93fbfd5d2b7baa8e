package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig;
import dev.sluice.conf.SluiceConfig.ListenerConfig;
import dev.sluice.conf.SluiceConfig.ListenerMode;
import dev.sluice.conf.SluiceConfig.RouteConfig;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One configuration generation: the routers of the http listeners, the upstream groups and the timeouts and limits
 * that can change while Sluice runs. Immutable and shared by every loop; each loop holds the one in effect for it
 * ({@link LoopContext#generation}, swapped by a task on that loop), and an exchange takes it when it starts and keeps
 * it to its end, so a reload never changes an exchange half-way.
 *
 * <p>Built off the loops (at start, or by a reload) and handed to each loop by a task submitted to it, which orders
 * its construction before any read on the loop.
 */
final class Generation {
    final long number;
    /** The configuration file as read for this generation (its listeners, loops and cache are the started ones). */
    final SluiceConfig config;
    /** By http listener name (the listeners as bound at start). */
    private final Map<String, Router> routers;
    /** By upstream name: those of the file, plus any a running TCP listener still needs (see {@link #build}). */
    final Map<String, Upstreams.Group> groups;

    final long requestHeadTimeoutNanos;
    final long idleTimeoutNanos;
    final int maxHeaderSize;
    final int maxTarget;
    final long maxRequestBody;
    final int maxResponseHeaderSize;
    /** Bytes a request body must bring in every {@link #bodyRateWindowNanos} (0: no minimum). */
    final long minBodyBytesPerWindow;
    final long bodyRateWindowNanos;

    private Generation(long number, SluiceConfig config, Map<String, Router> routers, Map<String, Upstreams.Group> groups) {
        this.number = number;
        this.config = config;
        this.routers = Map.copyOf(routers);
        this.groups = Map.copyOf(groups);
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

    /**
     * The generation for {@code config}, routed over the listeners Sluice started with ({@code started}'s: a listener
     * the file adds or changes takes a restart, so routes for a listener that is not bound serve nothing until then).
     * An upstream group whose settings did not change is {@code previous}'s same object, so its loops keep their pools
     * and balancer state; a changed one is a new group (the old one's pools drain, {@link LoopContext#swap}).
     *
     * @param previous the generation in effect, or null at start
     * @param cache    the cache, or null: then no route caches, whatever the file says (the memory is mapped at start)
     */
    static Generation build(long number, SluiceConfig config, SluiceConfig started, Generation previous,
            ProxyMetrics metrics, CacheContext cache) {
        Map<String, Upstreams.Group> groups = new LinkedHashMap<>();
        for (var u : config.upstreams().values()) {
            Upstreams.Group old = previous == null ? null : previous.groups.get(u.name());
            groups.put(u.name(), old != null && old.config.equals(u) ? old : new Upstreams.Group(u, metrics.registry, metrics.upstreamOpen(u.name())));
        }
        Map<String, Router> routers = new LinkedHashMap<>();
        for (ListenerConfig l : started.listeners()) {
            if (l.mode() == ListenerMode.TCP) {
                // the listener relays to the group of the name it started with; one the file no longer has stays
                if (!groups.containsKey(l.upstream()) && previous != null) {
                    groups.put(l.upstream(), previous.groups.get(l.upstream()));
                }
                continue;
            }
            List<Router.Route> routes = new java.util.ArrayList<>();
            for (RouteConfig r : config.routes()) {
                if (r.listener().isEmpty() || r.listener().equals(l.name())) {
                    routes.add(new Router.Route(r, groups.get(r.upstream()), metrics.routeMeters(r.name()),
                            cache != null && r.cache().enabled() ? CachePhase.Policy.of(r.cache()) : null));
                }
            }
            routers.put(l.name(), new Router(routes));
        }
        return new Generation(number, config, routers, groups);
    }

    /** The router of http listener {@code listener} (one Sluice started with). */
    Router router(String listener) {
        return routers.get(listener);
    }

    Collection<Router> routers() {
        return routers.values();
    }

    /** Whether a route of this generation wants splicing (zero-copy other than copy). */
    boolean splices() {
        return config.routes().stream().anyMatch(r -> r.zeroCopy() != SluiceConfig.ZeroCopy.COPY);
    }
}
