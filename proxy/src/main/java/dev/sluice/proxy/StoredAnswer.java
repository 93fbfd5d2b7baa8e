package dev.sluice.proxy;

import dev.sluice.cache.ByteRanges;
import dev.sluice.cache.HttpDate;
import dev.sluice.cache.Preconditions;
import dev.sluice.cache.StoredResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What a request is answered from a stored response (a hit, or a body still filling): its preconditions evaluated
 * (RFC 9110 13.2.2: 304, or 412), then its Range (14.2, after If-Range 13.1.5: 206 with one range or
 * multipart/byteranges, 416, or the whole 200). The answer is a head and the ranges of the stored body to send
 * from shared memory, with any multipart part headers as heap bytes between them ({@link ExtentSend}).
 *
 * <p>Preconditions apply only when the stored status is 2xx (13.2.1); Range only to GET (14.2) and a stored 200.
 * The head keeps the stored fields but for the framing ones this answer replaces.
 */
final class StoredAnswer {
    /** Fields a 304 carries (15.4.5): those a 200 would have that guide cache updates. */
    private static final String[] NOT_MODIFIED_FIELDS = {"Content-Location", "Date", "ETag", "Vary", "Cache-Control", "Expires"};
    private static final long[] NO_BODY = new long[0];

    final HttpHead head;
    /** Ranges of the stored body, pairs of start and end (exclusive); empty for no body. */
    final long[] bounds;
    /** Multipart part headers (one before each range and the closing delimiter), or null. */
    final byte[][] parts;

    private StoredAnswer(HttpHead head, long[] bounds, byte[][] parts) {
        this.head = head;
        this.bounds = bounds;
        this.parts = parts;
    }

    /** Body bytes this answer sends (ranges and part headers). */
    long bodyLength() {
        long n = 0;
        for (int i = 0; i < bounds.length; i += 2) {
            n += bounds[i + 1] - bounds[i];
        }
        if (parts != null) {
            for (byte[] p : parts) {
                n += p.length;
            }
        }
        return n;
    }

    /**
     * @param age         the stored response's current age in seconds
     * @param cacheStatus the Cache-Status value
     * @param now         the cache's clock, epoch seconds
     */
    static StoredAnswer of(HttpHead req, StoredResponse r, long age, String cacheStatus, long now) {
        Preconditions.Validators v = null;
        if (r.status() >= 200 && r.status() < 300 && conditional(req)) {
            v = Preconditions.Validators.of(r, now);
            switch (Preconditions.evaluate(req.method, req, v, now)) {
                case NOT_MODIFIED -> {
                    return notModified(r, age, cacheStatus);
                }
                case PRECONDITION_FAILED -> {
                    return local(412, "Precondition Failed", null, cacheStatus, now);
                }
                case PROCEED -> { }
            }
        }
        if (req.method.equals("GET") && r.status() == 200 && req.count("Range") > 0) {
            if (v == null) {
                v = Preconditions.Validators.of(r, now);
            }
            if (Preconditions.ifRange(req, v, now)) {
                ByteRanges ranges = ByteRanges.parse(req.joined("Range"), r.length());
                switch (ranges.kind()) {
                    case UNSATISFIABLE -> {
                        return local(416, "Range Not Satisfiable", "bytes */" + r.length(), cacheStatus, now);
                    }
                    case RANGES -> {
                        return partial(r, ranges, age, cacheStatus);
                    }
                    case IGNORE -> { }
                }
            }
        }
        HttpHead h = stored(r, age, cacheStatus);
        return new StoredAnswer(h, r.length() > 0 ? new long[] {0, r.length()} : NO_BODY, null);
    }

    static boolean conditional(HttpHead req) {
        return req.count("If-None-Match") > 0 || req.count("If-Modified-Since") > 0 || req.count("If-Match") > 0
                || req.count("If-Unmodified-Since") > 0;
    }

    /** The stored head as a 200 would have it, with Age and Cache-Status. */
    private static HttpHead stored(StoredResponse r, long age, String cacheStatus) {
        HttpHead h = new HttpHead();
        h.status = r.status();
        h.reasonPhrase = r.reason();
        h.minorVersion = 1;
        for (int i = 0; i < r.names().size(); i++) {
            h.add(r.names().get(i), r.values().get(i));
        }
        h.add("Age", Long.toString(age));
        h.add("Cache-Status", cacheStatus);
        return h;
    }

    /** 304: the fields of 15.4.5 (and Last-Modified when there is no ETag to guide the update), no body. */
    private static StoredAnswer notModified(StoredResponse r, long age, String cacheStatus) {
        HttpHead h = new HttpHead();
        h.status = 304;
        h.reasonPhrase = "Not Modified";
        h.minorVersion = 1;
        boolean etag = r.field("ETag") != null;
        for (int i = 0; i < r.names().size(); i++) {
            String name = r.names().get(i);
            boolean keep = !etag && name.equalsIgnoreCase("Last-Modified");
            for (String n : NOT_MODIFIED_FIELDS) {
                keep |= n.equalsIgnoreCase(name);
            }
            if (keep) {
                h.add(name, r.values().get(i));
            }
        }
        h.add("Age", Long.toString(age));
        h.add("Cache-Status", cacheStatus);
        return new StoredAnswer(h, NO_BODY, null);
    }

    /** A 412 or 416 of the cache's own: an empty body, the Content-Range of 15.5.17 for a 416. */
    private static StoredAnswer local(int status, String reason, String contentRange, String cacheStatus, long now) {
        HttpHead h = new HttpHead();
        h.status = status;
        h.reasonPhrase = reason;
        h.minorVersion = 1;
        h.add("Date", HttpDate.format(now));
        if (contentRange != null) {
            h.add("Content-Range", contentRange);
        }
        h.add("Content-Length", "0");
        h.add("Cache-Status", cacheStatus);
        return new StoredAnswer(h, NO_BODY, null);
    }

    /** 206 (15.3.7): one range with its Content-Range, or several as multipart/byteranges (15.3.7.2, 14.6). */
    private static StoredAnswer partial(StoredResponse r, ByteRanges ranges, long age, String cacheStatus) {
        HttpHead h = stored(r, age, cacheStatus);
        h.status = 206;
        h.reasonPhrase = "Partial Content";
        h.remove("Content-Length");
        h.remove("Content-Range");
        int n = ranges.count();
        long[] bounds = new long[2 * n];
        for (int i = 0; i < n; i++) {
            bounds[2 * i] = ranges.start(i);
            bounds[2 * i + 1] = ranges.end(i);
        }
        if (n == 1) {
            h.add("Content-Range", contentRange(ranges, 0, r.length()));
            h.add("Content-Length", Long.toString(ranges.total()));
            return new StoredAnswer(h, bounds, null);
        }
        String type = h.get("Content-Type");
        h.remove("Content-Type");
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        // random: the body is binary and may still be arriving, so it cannot be searched for a boundary that
        // does not occur; 128 random bits make one occurring negligible
        String boundary = String.format(Locale.ROOT, "sluice-%016x%016x", rnd.nextLong(), rnd.nextLong());
        h.add("Content-Type", "multipart/byteranges; boundary=" + boundary);
        byte[][] parts = new byte[n + 1][];
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder(128);
            b.append(i == 0 ? "" : "\r\n").append("--").append(boundary).append("\r\n");
            if (type != null) {
                b.append("Content-Type: ").append(type).append("\r\n");
            }
            b.append("Content-Range: ").append(contentRange(ranges, i, r.length())).append("\r\n\r\n");
            parts[i] = b.toString().getBytes(StandardCharsets.ISO_8859_1);
        }
        parts[n] = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.ISO_8859_1);
        StoredAnswer a = new StoredAnswer(h, bounds, parts);
        h.add("Content-Length", Long.toString(a.bodyLength()));
        return a;
    }

    private static String contentRange(ByteRanges ranges, int i, long length) {
        return "bytes " + ranges.start(i) + "-" + (ranges.end(i) - 1) + "/" + length;
    }
}
