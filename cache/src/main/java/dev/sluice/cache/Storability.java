package dev.sluice.cache;

/**
 * Whether a shared cache may store a response (RFC 9111 3, 3.5), and if not, why: the reason becomes the
 * {@code detail} of Cache-Status and the admin API's explanation. Only complete GET responses are stored as whole
 * objects; HEAD is answered from a stored GET.
 */
public final class Storability {
    /** What a route allows beyond the RFC's defaults. */
    public record Policy(boolean storeSetCookie, long defaultTtl) {
        public static final Policy DEFAULT = new Policy(false, 0);
    }

    /** The decision: null reason = store. */
    public record Decision(String reason) {
        static final Decision STORE = new Decision(null);

        public boolean store() {
            return reason == null;
        }
    }

    private Storability() {}

    /**
     * @param freshness the response's freshness as computed for storing
     */
    public static Decision decide(String method, Fields req, CacheControl reqCc, int status, Fields resp,
            CacheControl respCc, Freshness freshness, Policy policy) {
        if (!method.equals("GET")) {
            return new Decision("method");
        }
        if (status < 200 || status == 206 || status == 304) {
            // RFC 9111 3: a 206 is part of a representation, and a 304 none at all (it refers to a stored response):
            // this cache stores neither as an object, so a 304 that reaches here (an origin answering a request that
            // carried no condition from this cache) is passed on, never served to other requests
            return new Decision(status == 206 ? "partial-content" : status == 304 ? "not-modified" : "interim");
        }
        if (reqCc.noStore) {
            return new Decision("request-no-store");
        }
        if (respCc.noStore) {
            return new Decision("no-store");
        }
        if (respCc.isPrivate || respCc.privateFields != null) {
            return new Decision("private");
        }
        if (req.count("Authorization") > 0 && !respCc.isPublic && !respCc.mustRevalidate
                && respCc.sMaxAge == CacheControl.ABSENT) {
            return new Decision("authorization"); // RFC 9111 3.5
        }
        if (resp.count("Set-Cookie") > 0 && !policy.storeSetCookie()) {
            return new Decision("set-cookie");
        }
        String vary = resp.joined("Vary");
        if (vary != null && vary.contains("*")) {
            return new Decision("vary-star"); // never served from cache (RFC 9111 4.1)
        }
        if (respCc.mustUnderstand && !understood(status)) {
            return new Decision("must-understand");
        }
        boolean explicit = freshness.source().explicit() || respCc.isPublic;
        boolean allowed = explicit || freshness.source() == Freshness.Source.HEURISTIC
                || freshness.source() == Freshness.Source.DEFAULT_TTL;
        // RFC 9111 3: a heuristically cacheable status may be stored without freshness; stale on arrival, it is worth
        // storing only when it can be revalidated (a 304 then saves sending the body again)
        boolean revalidatable = hasValidator(resp) && (respCc.noCache || Freshness.heuristicallyCacheable(status));
        if (!allowed && !revalidatable) {
            return new Decision("no-freshness");
        }
        return Decision.STORE;
    }

    /** Status codes whose semantics this cache implements (for must-understand). */
    static boolean understood(int status) {
        return switch (status) {
            case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501 -> true;
            default -> false;
        };
    }

    /** An ETag or a Last-Modified: something a revalidation can be conditional on. */
    public static boolean hasValidator(Fields resp) {
        return resp.count("ETag") > 0 || resp.count("Last-Modified") > 0;
    }
}
