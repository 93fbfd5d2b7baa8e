package dev.sluice.proxy;

/**
 * A Range request that misses is sent upstream without Range and If-Range, so that the response is the whole
 * object and stored like any other fill; the client is then answered its range from the fill as the bytes arrive
 * ({@link StoredAnswer}). A 206 from the origin is never stored (Storability: {@code partial-content}). When the
 * whole object turns out not storable (too large, unknown length, ...), it passes through as a 200, which is a
 * correct answer to a Range request (RFC 9110 14.2: a server may ignore Range).
 */
final class RangeMiss {
    private RangeMiss() {}

    /** Removes Range and If-Range from a GET that has a Range; returns them (null values for absent ones), or null. */
    static String[] strip(HttpHead req) {
        if (!req.method.equals("GET") || req.count("Range") == 0) {
            return null;
        }
        String[] kept = {req.joined("Range"), req.joined("If-Range")};
        req.remove("Range");
        req.remove("If-Range");
        return kept;
    }

    /** Puts back what {@link #strip} removed, for the answer to the client (once the request has gone upstream). */
    static void restore(HttpHead req, String[] kept) {
        if (kept == null || req.count("Range") > 0) {
            return;
        }
        req.add("Range", kept[0]);
        if (kept[1] != null) {
            req.add("If-Range", kept[1]);
        }
    }
}
