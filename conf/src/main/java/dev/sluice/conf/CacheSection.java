package dev.sluice.conf;

import static dev.sluice.conf.TypedReader.at;

import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.sluice.conf.SluiceConfig.CacheConfig;
import dev.sluice.conf.SluiceConfig.CacheFill;
import dev.sluice.conf.SluiceConfig.CacheLock;
import dev.sluice.conf.SluiceConfig.CacheSend;
import dev.sluice.conf.SluiceConfig.QueryKey;
import dev.sluice.conf.SluiceConfig.QueryMode;
import dev.sluice.conf.SluiceConfig.RouteCache;
import dev.sluice.conf.SluiceConfig.WarmConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads caching: the global {@code sluice.cache} section and each route's {@code cache} section (which statuses are
 * kept how long, and which query parameters go into the key).
 */
final class CacheSection {
    private CacheSection() {}

    /** {@code cache}: the cache's size and how it fills, locks, sends and warms. */
    static CacheConfig read(TypedReader r) {
        return new CacheConfig(r.bytesOrOff("cache.memory", 1 << 20, "no cache"),
                r.bytes("cache.max-object-size", 1, Long.MAX_VALUE),
                r.bytes("cache.fill-on-abort-max", 0, Long.MAX_VALUE),
                r.enumOf("cache.lock", CacheLock.class, CacheLock.TRY),
                r.enumOf("cache.send", CacheSend.class, CacheSend.AUTO), r.notNegative("cache.hit-for-pass"),
                r.enumOf("cache.fill", CacheFill.class, CacheFill.RECEIVE), tagHeader(r, "cache.tag-header"),
                new WarmConfig(r.intAtLeast("cache.warm.max-jobs", 1), r.notNegative("cache.warm.keep-finished"),
                        r.intAtLeast("cache.warm.max-in-flight", 1), r.intBetween("cache.warm.max-cpu-percent", 0, 100)));
    }

    /** A field name (a token), or "" for none. */
    private static String tagHeader(TypedReader r, String key) {
        String h = r.string(key);
        if (h == null) {
            return "";
        }
        if (!h.isEmpty() && !h.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
            r.problem(key, "'" + h + "' is not a header field name");
            return "";
        }
        return h;
    }

    /** A route's cache section: route-defaults.cache under what the route sets. */
    static RouteCache route(TypedReader r) {
        // "cache = true" is an easy slip: one problem for it, not one for every key the section lacks
        if (!r.section("cache", "cache { enabled = true }") || !r.section("cache.key", "key { query = none }")) {
            return RouteCache.off();
        }
        return new RouteCache(r.bool("cache.enabled"), r.notNegative("cache.default-ttl"),
                statuses(r, "cache.default-ttl-statuses"), queryKey(r, "cache.key.query"),
                r.bool("cache.store-set-cookie"), r.notNegative("cache.heuristic-max"),
                r.notNegative("cache.stale-while-revalidate"), r.notNegative("cache.stale-if-error"));
    }

    /** A list of response status codes, each from 200 to 599. */
    private static List<Integer> statuses(TypedReader r, String key) {
        return r.list(key, v -> v.unwrapped() instanceof Integer status && status >= 200 && status <= 599 ? status
                : null, "a status from 200 to 599");
    }

    /**
     * {@code key.query}: all, none, or the list of parameters kept (non-empty names, each once, in the order
     * they go into the key).
     */
    private static QueryKey queryKey(TypedReader r, String key) {
        ConfigValue v = r.get(key, r.c::getValue);
        if (v == null) {
            return new QueryKey(QueryMode.ALL, List.of());
        }
        if (v instanceof ConfigList list) {
            if (list.isEmpty()) {
                r.problem(key, "an empty list keeps no parameter; write none for that");
            }
            List<String> names = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                ConfigValue n = list.get(i);
                String what = parameterNameProblem(n, names);
                if (what != null) {
                    r.problems.add(at(n.origin()) + r.path + "." + key + "[" + i + "]: " + what);
                } else {
                    names.add((String) n.unwrapped());
                }
            }
            return new QueryKey(QueryMode.ONLY, names);
        }
        if (v.valueType() == ConfigValueType.STRING) {
            switch (((String) v.unwrapped()).trim().toLowerCase(Locale.ROOT)) {
                case "all" -> {
                    return new QueryKey(QueryMode.ALL, List.of());
                }
                case "none" -> {
                    return new QueryKey(QueryMode.NONE, List.of());
                }
                default -> { }
            }
        }
        r.problem(key, "expected all | none | [names], got " + v.render());
        return new QueryKey(QueryMode.ALL, List.of());
    }

    /** What is wrong with a name in a key.query list (given the names before it), or null. */
    private static String parameterNameProblem(ConfigValue n, List<String> before) {
        if (n.valueType() != ConfigValueType.STRING) {
            return "a parameter name is a string, got " + n.valueType().name().toLowerCase(Locale.ROOT) + " "
                    + n.render() + (n.valueType() == ConfigValueType.NUMBER ? " (quote it)" : "");
        }
        String name = (String) n.unwrapped();
        if (name.isEmpty()) {
            return "a parameter name cannot be empty";
        }
        if (name.indexOf('&') >= 0 || name.indexOf('=') >= 0) {
            return "a parameter name cannot contain '&' or '=', got " + n.render();
        }
        if (before.contains(name)) {
            return "'" + name + "' is listed twice";
        }
        return null;
    }
}
