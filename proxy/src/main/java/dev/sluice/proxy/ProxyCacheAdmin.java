package dev.sluice.proxy;

import dev.sluice.admin.CacheAdmin;
import dev.sluice.cache.CacheIndex;
import dev.sluice.cache.CacheKey;
import dev.sluice.cache.StoredResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.Predicate;
import java.net.InetSocketAddress;

/**
 * The proxy's side of the admin's cache API: URL to route to primary key by the routers of the http listeners (each
 * route's own key policy), the fills in progress, the stores and the lookup counters. Runs on the admin's loop; it
 * only reads the routers (immutable, of the generation in effect) and the cache's concurrent structures.
 */
final class ProxyCacheAdmin implements CacheAdmin {
    private final CacheContext cache;
    /** The configuration in effect: its routers and upstream groups (a reload may change them between two calls). */
    private final java.util.function.Supplier<Generation> generation;
    /**
     * The bound address of each http listener, by name in the file's order, a wildcard address replaced by loopback
     * (fixed: listeners change only with a restart).
     */
    private final Map<String, InetSocketAddress> listeners;
    private final MeterRegistry registry;
    private final IntSupplier waitingHeads;

    ProxyCacheAdmin(CacheContext cache, java.util.function.Supplier<Generation> generation,
            Map<String, InetSocketAddress> listeners, MeterRegistry registry, IntSupplier waitingHeads) {
        this.cache = cache;
        this.generation = generation;
        this.listeners = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(listeners));
        this.registry = registry;
        this.waitingHeads = waitingHeads;
    }

    @Override
    public WarmTarget warmTarget(String host, String target) throws NoRoute {
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        String routeHost = host == null ? null : Router.normalizeHost(host);
        Generation g = generation.get();
        for (Map.Entry<String, InetSocketAddress> listener : listeners.entrySet()) {
            Router router = g.router(listener.getKey());
            if (router == null) {
                continue;
            }
            // with no host, the first route on the path whatever its host; a route with a header condition may not
            // take a request without that field, so as in keysOf the search goes on past it
            for (Router.Route r : routeHost == null ? router.onPath(path) : router.mayServe(routeHost, path)) {
                if (r.cache() == null) {
                    if (r.config().header() == null) {
                        throw new NoRoute("the route serving " + path + " (" + r.name() + ") does not cache");
                    }
                    continue;
                }
                InetSocketAddress l = listener.getValue();
                String h = host;
                if (h == null) {
                    String pattern = r.config().host();
                    h = !pattern.isEmpty() && !pattern.startsWith("*.") ? pattern
                            : (l.getAddress() instanceof java.net.Inet6Address ? "[" + l.getHostString() + "]"
                                    : l.getHostString()) + ":" + l.getPort();
                }
                return new WarmTarget(r.name(), h, l);
            }
        }
        throw new NoRoute("no route serves " + path + (routeHost == null ? "" : " on host " + routeHost));
    }

    @Override
    public S3Upstream s3Upstream(String route) throws NoRoute {
        Generation g = generation.get();
        for (Router router : g.routers()) {
            for (Router.Route r : router.routes()) {
                if (!r.name().equals(route)) {
                    continue;
                }
                if (r.cache() == null) {
                    throw new NoRoute("route " + route + " does not cache");
                }
                dev.sluice.conf.SluiceConfig.UpstreamConfig u = g.config.upstreams().get(r.config().upstream());
                List<InetSocketAddress> servers = new ArrayList<>();
                for (var server : u.servers()) {
                    String h = server.address().host();
                    servers.add(new InetSocketAddress(h.equals("0.0.0.0") ? "127.0.0.1" : h.equals("::") ? "::1" : h,
                            server.address().port()));
                }
                return new S3Upstream(route, servers, u.s3());
            }
        }
        throw new NoRoute("no route named " + route + " on an http listener");
    }

    @Override
    public String warmToken() {
        return cache.warmToken;
    }

    @Override
    public int clientsWaitingForUpstream() {
        return Math.max(0, waitingHeads.getAsInt());
    }

    @Override
    public dev.sluice.conf.SluiceConfig.WarmConfig warmConfig() {
        return cache.config.warm();
    }

    @Override
    public CacheIndex index() {
        return cache.index;
    }

    @Override
    public List<RouteKey> keysOf(String host, String target) throws NoRoute {
        String routeHost = Router.normalizeHost(host);
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        List<RouteKey> out = new ArrayList<>();
        boolean any = false;
        for (Router router : generation.get().routers()) {
            for (Router.Route r : router.mayServe(routeHost, path)) {
                any = true;
                if (r.cache() == null) {
                    continue;
                }
                String key = CacheKey.primary(host, target, r.cache().query());
                if (out.stream().noneMatch(k -> k.key().equals(key))) {
                    out.add(new RouteKey(r.name(), key));
                }
            }
        }
        if (!any) {
            throw new NoRoute("no route serves " + path + " on host " + routeHost);
        }
        if (out.isEmpty()) {
            throw new NoRoute("the route serving " + path + " on host " + routeHost + " does not cache");
        }
        return out;
    }

    @Override
    public int purgeFills(Predicate<String> keys, String tag, boolean soft) {
        return cache.purgeFills(keys, tag, soft);
    }

    @Override
    public int fillsInProgress() {
        return cache.fills.size();
    }

    @Override
    public long budget() {
        return cache.config.memory();
    }

    @Override
    public long usedBytes() {
        var s = cache.segments.stats();
        return s.allocatedBytes() + s.drainingBytes() + cache.index.headBytes();
    }

    @Override
    public int storeOf(StoredResponse r) {
        return r.body() == null ? -1 : cache.segments.stores().indexOf(r.body().store());
    }

    @Override
    public String send() {
        return cache.config.send().name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    @Override
    public long nowSeconds() {
        return cache.nowSeconds();
    }

    @Override
    public Map<String, Long> lookups() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (CacheMetrics.Lookup l : CacheMetrics.Lookup.values()) {
            out.put(l.label, 0L);
        }
        for (Counter c : registry.find("sluice.cache.lookups").counters()) {
            String result = c.getId().getTag("result");
            if (result != null) {
                out.merge(result, (long) c.count(), Long::sum);
            }
        }
        return out;
    }
}
