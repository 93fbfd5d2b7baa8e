package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.HeaderMatch;
import dev.sluice.conf.SluiceConfig.RouteConfig;
import java.util.List;
import java.util.Locale;

/** The routes of one http listener in one {@link Generation}, tried in order. Immutable, shared by every loop. */
final class Router {
    /** A route with its metrics, upstream group and cache policy (null: not cached) resolved. */
    record Route(RouteConfig config, Upstreams.Group group, ProxyMetrics.RouteMeters meters, CachePhase.Policy cache) {
        String name() {
            return config.name();
        }
    }

    private final Route[] routes;

    Router(List<Route> routes) {
        this.routes = routes.toArray(new Route[0]);
    }

    boolean isEmpty() {
        return routes.length == 0;
    }

    /**
     * @param host the Host header without port, lowercase (may be empty)
     * @param path the request target's path (no query)
     */
    Route match(String host, String path, HttpHead head) {
        for (Route r : routes) {
            RouteConfig c = r.config;
            if (!hostMatches(c.host(), host) || !path.startsWith(c.pathPrefix()) || !headerMatches(c.header(), head)) {
                continue;
            }
            return r;
        }
        return null;
    }

    /**
     * The routes that may serve {@code path} on {@code host} whatever the request's fields (for the admin, which has a
     * URL only): those whose host and path match, up to and with the first that has no header condition (it would
     * take every request that reaches it).
     */
    List<Route> mayServe(String host, String path) {
        List<Route> out = new java.util.ArrayList<>();
        for (Route r : routes) {
            RouteConfig c = r.config;
            if (hostMatches(c.host(), host) && path.startsWith(c.pathPrefix())) {
                out.add(r);
                if (c.header() == null) {
                    break;
                }
            }
        }
        return out;
    }

    /** Every route, in order. */
    List<Route> routes() {
        return List.of(routes);
    }

    /**
     * The routes on {@code path} whatever the host (for a warm key given as a path alone), up to and with the first
     * without a header condition.
     */
    List<Route> onPath(String path) {
        List<Route> out = new java.util.ArrayList<>();
        for (Route r : routes) {
            if (path.startsWith(r.config.pathPrefix())) {
                out.add(r);
                if (r.config.header() == null) {
                    break;
                }
            }
        }
        return out;
    }

    static boolean hostMatches(String pattern, String host) {
        if (pattern.isEmpty()) {
            return true;
        }
        if (pattern.startsWith("*.")) {
            // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com"
            String suffix = pattern.substring(1);
            return host.length() > suffix.length() && host.endsWith(suffix);
        }
        return pattern.equals(host);
    }

    private static boolean headerMatches(HeaderMatch m, HttpHead head) {
        if (m == null) {
            return true;
        }
        String v = head.get(m.name());
        return v != null && (m.value().isEmpty() || m.value().equals(v));
    }

    /** Host header value to the form routes match: lowercase, port and trailing dot removed. */
    static String normalizeHost(String host) {
        if (host == null) {
            return "";
        }
        String h = host.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            return close > 0 ? h.substring(0, close + 1) : h;
        }
        int colon = h.lastIndexOf(':');
        if (colon >= 0) {
            h = h.substring(0, colon);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }
}
