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
import java.util.function.Predicate;

/**
 * The proxy's side of the admin's cache API: URL to route to primary key by the routers of the http listeners (each
 * route's own key policy), the fills in progress, the stores and the lookup counters. Runs on the admin's loop; it
 * only reads the routers (immutable, of the generation in effect) and the cache's concurrent structures.
 */
final class ProxyCacheAdmin implements CacheAdmin {
    private final CacheContext cache;
    /** The routers of the generation in effect (a reload may change them between two calls). */
    private final java.util.function.Supplier<? extends java.util.Collection<Router>> routers;
    private final MeterRegistry registry;

    ProxyCacheAdmin(CacheContext cache, java.util.function.Supplier<? extends java.util.Collection<Router>> routers,
            MeterRegistry registry) {
        this.cache = cache;
        this.routers = routers;
        this.registry = registry;
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
        for (Router router : routers.get()) {
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
