package dev.sluice.cache;

/**
 * The Cache-Status response field (RFC 9211) for this cache's hop: a structured-field list member named
 * {@link #CACHE} with its parameters.
 */
public final class CacheStatus {
    /** The cache's name in Cache-Status. */
    public static final String CACHE = "sluice";

    /** Why the request went forward (RFC 9211 2.2), or null for a hit. */
    public enum Fwd {
        MISS("miss"), URI_MISS("uri-miss"), VARY_MISS("vary-miss"), STALE("stale"), REQUEST("request"), BYPASS("bypass");

        final String token;

        Fwd(String token) {
            this.token = token;
        }
    }

    private CacheStatus() {}

    /** A hit: served from cache, with the freshness left (negative: served stale by that much). */
    public static String hit(long ttl, String detail) {
        return CACHE + "; hit; ttl=" + ttl + detail(detail);
    }

    /**
     * A forwarded request: why, the upstream's status, whether the response was stored (and its ttl then), and a
     * detail (why not stored, or what happened).
     */
    public static String forward(Fwd fwd, int fwdStatus, boolean stored, long ttl, String detail) {
        StringBuilder b = new StringBuilder(CACHE).append("; fwd=").append(fwd.token);
        if (fwdStatus > 0) {
            b.append("; fwd-status=").append(fwdStatus);
        }
        if (stored) {
            b.append("; stored; ttl=").append(ttl);
        }
        return b.append(detail(detail)).toString();
    }

    /**
     * A forwarded request answered from the stored response after all: refreshed by a 304 ({@code fwdStatus} 304),
     * or standing in for an error ({@code fwdStatus} the error's, 0 when the upstream gave no answer).
     */
    public static String fromStored(Fwd fwd, int fwdStatus, long ttl, String detail) {
        StringBuilder b = new StringBuilder(CACHE).append("; fwd=").append(fwd.token);
        if (fwdStatus > 0) {
            b.append("; fwd-status=").append(fwdStatus);
        }
        return b.append("; ttl=").append(ttl).append(detail(detail)).toString();
    }

    /**
     * A request that waited for another request's forward of the same URI and was answered from its response as
     * the body arrived (RFC 9211 2.7, {@code collapsed}).
     */
    public static String collapsed(Fwd fwd, int fwdStatus, long ttl) {
        return CACHE + "; fwd=" + fwd.token + "; fwd-status=" + fwdStatus + "; collapsed; ttl=" + ttl;
    }

    /** {@code ; detail=token}, or a quoted string when the detail is not a structured-field token. */
    private static String detail(String detail) {
        if (detail == null || detail.isEmpty()) {
            return "";
        }
        boolean token = Character.isLetter(detail.charAt(0)) || detail.charAt(0) == '*';
        for (int i = 0; i < detail.length() && token; i++) {
            char c = detail.charAt(i);
            token = c > 0x20 && c < 0x7f && "\"(),;<=>?@[\\]{}".indexOf(c) < 0;
        }
        if (token) {
            return "; detail=" + detail;
        }
        return "; detail=\"" + detail.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
