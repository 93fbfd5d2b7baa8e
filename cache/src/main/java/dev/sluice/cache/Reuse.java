package dev.sluice.cache;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Whether a stored response may answer a request without contacting the origin (RFC 9111 4, 4.2.4, 5.2.1), and
 * which stored responses an unsafe request invalidates (4.4).
 */
public final class Reuse {
    /** What to do with a stored response for a request. */
    public enum Verdict {
        /** Fresh enough for this request: serve it. */
        FRESH,
        /** Stale, but the request accepts that much staleness (max-stale) and the response allows it: serve it. */
        STALE_ALLOWED,
        /** It must be validated with the origin first (stale, no-cache on either side, or too old for the request). */
        REVALIDATE
    }

    private Reuse() {}

    /**
     * @param stored the stored response's Cache-Control, as received
     */
    public static Verdict verdict(Freshness freshness, CacheControl stored, Fields req, CacheControl reqCc, long now) {
        if (stored.noCache || stored.noCacheFields != null || reqCc.noCache
                || (req.count("Cache-Control") == 0 && pragmaNoCache(req))) {
            return Verdict.REVALIDATE; // RFC 9111 5.2.2.4, 5.2.1.4, 5.4 (Pragma only without Cache-Control)
        }
        long ttl = freshness.ttl(now);
        long age = freshness.age(now);
        if (reqCc.maxAge != CacheControl.ABSENT && (reqCc.maxAge == CacheControl.INVALID || age > reqCc.maxAge)) {
            return Verdict.REVALIDATE; // 5.2.1.1
        }
        if (reqCc.minFresh != CacheControl.ABSENT && (reqCc.minFresh == CacheControl.INVALID || ttl < reqCc.minFresh)) {
            return Verdict.REVALIDATE; // 5.2.1.3
        }
        if (ttl > 0) {
            return Verdict.FRESH;
        }
        // stale: served only when the request accepts it and the response does not forbid it (4.2.4)
        boolean forbidden = forbidsStale(stored);
        boolean accepted = reqCc.maxStaleAny || (reqCc.maxStale >= 0 && -ttl <= reqCc.maxStale);
        return !forbidden && accepted ? Verdict.STALE_ALLOWED : Verdict.REVALIDATE;
    }

    /**
     * Whether a stale response may be sent at once while it is revalidated in the background (RFC 5861 3): it is
     * stale by no more than its {@code stale-while-revalidate} (or the route's default when the response gives none),
     * nothing forbids serving it stale (4.2.4: no-cache, must-revalidate, proxy-revalidate, s-maxage), and the
     * request asks for nothing fresher (no no-cache, max-age or min-fresh of its own).
     *
     * @param routeDefault seconds the route allows when the response has no stale-while-revalidate (0 = none)
     */
    public static boolean staleWhileRevalidate(Freshness freshness, CacheControl stored, Fields req, CacheControl reqCc,
            long now, long routeDefault) {
        long ttl = freshness.ttl(now);
        if (ttl > 0 || forbidsStale(stored) || reqCc.noCache || reqCc.maxAge != CacheControl.ABSENT
                || reqCc.minFresh != CacheControl.ABSENT || (req.count("Cache-Control") == 0 && pragmaNoCache(req))) {
            return false;
        }
        long window = stored.staleWhileRevalidate != CacheControl.ABSENT ? stored.staleWhileRevalidate : routeDefault;
        return window > 0 && -ttl <= window;
    }

    /**
     * Whether a stored response may answer when validating it failed (RFC 5861 4: a 500, 502, 503 or 504, or no
     * answer at all): it is stale by no more than the response's {@code stale-if-error} (the route's default when it
     * gives none) or the request's, and nothing forbids serving it stale (4.2.4).
     */
    public static boolean staleIfError(Freshness freshness, CacheControl stored, CacheControl reqCc, long now,
            long routeDefault) {
        if (forbidsStale(stored)) {
            return false;
        }
        long staleness = Math.max(0, -freshness.ttl(now));
        long window = stored.staleIfError != CacheControl.ABSENT ? stored.staleIfError : routeDefault;
        return (window > 0 && staleness <= window) || (reqCc.staleIfError > 0 && staleness <= reqCc.staleIfError);
    }

    /** An error a stale response may stand in for (RFC 5861 4). */
    public static boolean isError(int status) {
        return status == 500 || status == 502 || status == 503 || status == 504;
    }

    /** Directives under which a stored response is never served stale by a shared cache (RFC 9111 4.2.4). */
    public static boolean forbidsStale(CacheControl stored) {
        return stored.noCache || stored.noCacheFields != null || stored.mustRevalidate || stored.proxyRevalidate
                || stored.sMaxAge != CacheControl.ABSENT;
    }

    private static boolean pragmaNoCache(Fields req) {
        String pragma = req.joined("Pragma");
        return pragma != null && pragma.toLowerCase(Locale.ROOT).contains("no-cache");
    }

    /**
     * The primary keys an unsafe request's non-error response invalidates (RFC 9111 4.4): its target, and the URIs of
     * Location and Content-Location when they name the same host. Empty for safe methods and for error statuses.
     *
     * @param keyOf the primary key of a same-host target in origin-form (path and query)
     */
    public static List<String> invalidated(String method, int status, String host, String target, Fields resp,
            java.util.function.Function<String, String> keyOf) {
        List<String> keys = new ArrayList<>();
        boolean unsafe = switch (method) {
            case "GET", "HEAD", "OPTIONS", "TRACE" -> false;
            default -> true;
        };
        if (!unsafe || status < 200 || status >= 400) {
            return keys;
        }
        keys.add(keyOf.apply(target));
        for (String field : new String[] {"Location", "Content-Location"}) {
            String uri = resp.joined(field);
            String sameHost = sameHostTarget(uri, host);
            if (sameHost != null && !keys.contains(keyOf.apply(sameHost))) {
                keys.add(keyOf.apply(sameHost));
            }
        }
        return keys;
    }

    /** The origin-form target of {@code uri} when it is relative or names {@code host}, else null. */
    static String sameHostTarget(String uri, String host) {
        if (uri == null || uri.isEmpty() || uri.indexOf(',') >= 0) {
            return null;
        }
        if (uri.startsWith("/") && !uri.startsWith("//")) {
            return uri;
        }
        for (String scheme : new String[] {"http://", "https://"}) {
            if (uri.regionMatches(true, 0, scheme, 0, scheme.length())) {
                int start = scheme.length();
                int slash = uri.indexOf('/', start);
                String authority = slash < 0 ? uri.substring(start) : uri.substring(start, slash);
                return host != null && authority.equalsIgnoreCase(host) ? (slash < 0 ? "/" : uri.substring(slash)) : null;
            }
        }
        return null;
    }
}
