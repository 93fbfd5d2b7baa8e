package dev.sluice.cache;

import java.util.ArrayList;
import java.util.List;

/**
 * Conditional requests evaluated against a stored response (RFC 9110 13, in the order of 13.2.2), and If-Range
 * (13.1.5), which decides whether a Range is honoured. Pure: the caller says what the stored response's validators
 * are and what time it is.
 *
 * <p>The cache applies these only to a stored response it would serve (fresh, or stale as allowed), never to a
 * miss (RFC 9111 4.3.2: such preconditions are for the origin). If-Match and If-Unmodified-Since are evaluated
 * here for completeness, but RFC 9111 4.3.2 says they are "not applicable to a cache": the proxy sends requests
 * carrying them to the origin.
 */
public final class Preconditions {
    /** What 13.2.2 says to do. */
    public enum Outcome {
        /** No precondition stops the request: answer it as if unconditional (a Range may still apply). */
        PROCEED,
        /** 304 (Not Modified): the client's copy is current. */
        NOT_MODIFIED,
        /** 412 (Precondition Failed). */
        PRECONDITION_FAILED
    }

    /**
     * The stored response's validators.
     *
     * @param etag         its ETag value, or null (a malformed one never matches)
     * @param lastModified its Last-Modified as epoch seconds, or {@link HttpDate#INVALID}
     * @param date         its Date as epoch seconds, or {@link HttpDate#INVALID}
     */
    public record Validators(String etag, long lastModified, long date) {
        /** From the stored field values (any may be null). */
        public static Validators of(String etag, String lastModified, String date, long now) {
            String tag = etag == null ? null : etag.strip();
            return new Validators(tag != null && isEntityTag(tag) ? tag : null, HttpDate.parse(lastModified, now),
                    HttpDate.parse(date, now));
        }

        public static Validators of(StoredResponse r, long now) {
            return of(r.field("ETag"), r.field("Last-Modified"), r.field("Date"), now);
        }

        /**
         * Last-Modified is a strong validator for an intermediate cache when the stored Date is at least a second
         * after it (RFC 9110 8.8.2.2): the representation cannot have changed twice within that second unseen.
         */
        boolean strongLastModified() {
            return lastModified != HttpDate.INVALID && date != HttpDate.INVALID && date >= lastModified + 1;
        }
    }

    private Preconditions() {}

    /**
     * RFC 9110 13.2.2 steps 1-4 for a request to a resource whose selected representation is the stored one (whose
     * status, per 13.2.1, must be 2xx: for any other the caller ignores preconditions).
     *
     * @param now the cache's clock, epoch seconds: an If-Modified-Since later than this is ignored
     */
    public static Outcome evaluate(String method, Fields req, Validators v, long now) {
        boolean getOrHead = method.equals("GET") || method.equals("HEAD");
        // 1. If-Match (13.1.1): strong comparison; a malformed list matches nothing
        if (req.count("If-Match") > 0) {
            if (!ifMatch(req.joined("If-Match"), v)) {
                return Outcome.PRECONDITION_FAILED;
            }
        } else if (req.count("If-Unmodified-Since") > 0) {
            // 2. If-Unmodified-Since (13.1.4), only without If-Match; ignored when not one valid date or no date to compare
            long since = req.count("If-Unmodified-Since") == 1 ? HttpDate.parse(req.joined("If-Unmodified-Since"), now)
                    : HttpDate.INVALID;
            if (since != HttpDate.INVALID && v.lastModified() != HttpDate.INVALID && v.lastModified() > since) {
                return Outcome.PRECONDITION_FAILED;
            }
        }
        // 3. If-None-Match (13.1.2): weak comparison; a malformed field is treated as absent
        List<String> inm = req.count("If-None-Match") > 0 ? tagList(req.joined("If-None-Match")) : null;
        if (inm != null) {
            boolean matches = inm.isEmpty() || anyMatches(inm, v.etag(), false); // empty: "*"
            if (matches) {
                return getOrHead ? Outcome.NOT_MODIFIED : Outcome.PRECONDITION_FAILED;
            }
            return Outcome.PROCEED;
        }
        // 4. If-Modified-Since (13.1.3), GET and HEAD only, without If-None-Match
        if (getOrHead && req.count("If-Modified-Since") == 1) {
            long since = HttpDate.parse(req.joined("If-Modified-Since"), now);
            // RFC 9111 4.3.2: without Last-Modified, a cache compares with the stored response's Date
            long modified = v.lastModified() != HttpDate.INVALID ? v.lastModified() : v.date();
            if (since != HttpDate.INVALID && since <= now && modified != HttpDate.INVALID && modified <= since) {
                return Outcome.NOT_MODIFIED;
            }
        }
        return Outcome.PROCEED;
    }

    /**
     * If-Range (13.1.5): true when the Range is to be honoured. Only a strong entity tag equal to the stored one, or
     * an HTTP-date exactly equal to a Last-Modified that is strong (8.8.2.2), holds; anything else (a weak tag, a
     * malformed value, several values) sends the whole representation.
     */
    public static boolean ifRange(Fields req, Validators v, long now) {
        if (req.count("If-Range") != 1) {
            return req.count("If-Range") == 0;
        }
        String value = req.joined("If-Range").strip();
        if (value.startsWith("\"") || value.startsWith("W/")) {
            return isEntityTag(value) && !value.startsWith("W/") && v.etag() != null && strongMatch(value, v.etag());
        }
        long date = HttpDate.parse(value, now);
        return date != HttpDate.INVALID && v.strongLastModified() && date == v.lastModified();
    }

    private static boolean ifMatch(String value, Validators v) {
        List<String> tags = tagList(value);
        if (tags == null) {
            return false;
        }
        return tags.isEmpty() || anyMatches(tags, v.etag(), true); // "*": the stored representation exists
    }

    private static boolean anyMatches(List<String> tags, String etag, boolean strong) {
        if (etag == null) {
            return false;
        }
        for (String t : tags) {
            if (strong ? strongMatch(t, etag) : weakMatch(t, etag)) {
                return true;
            }
        }
        return false;
    }

    /** Strong comparison (8.8.3.2): neither weak, opaque tags equal character for character. */
    static boolean strongMatch(String a, String b) {
        return !a.startsWith("W/") && !b.startsWith("W/") && a.equals(b);
    }

    /** Weak comparison (8.8.3.2): opaque tags equal, either or both may be weak. */
    static boolean weakMatch(String a, String b) {
        return opaque(a).equals(opaque(b));
    }

    private static String opaque(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }

    /**
     * The entity tags of {@code "*" / #entity-tag}: an empty list for "*", null when malformed (an unquoted or
     * unterminated tag, "*" among tags, nothing at all).
     */
    static List<String> tagList(String value) {
        String v = value.strip();
        if (v.equals("*")) {
            return List.of();
        }
        List<String> tags = new ArrayList<>();
        int i = 0;
        int n = v.length();
        while (i < n) {
            char c = v.charAt(i);
            if (c == ',' || c == ' ' || c == '\t') {
                i++; // separators and empty list elements (5.6.1)
                continue;
            }
            int start = i;
            if (v.startsWith("W/", i)) {
                i += 2;
            }
            if (i >= n || v.charAt(i) != '"') {
                return null;
            }
            int close = i + 1;
            while (close < n && etagc(v.charAt(close))) {
                close++;
            }
            if (close >= n || v.charAt(close) != '"') {
                return null; // unterminated, or a character an entity tag cannot hold
            }
            i = close + 1;
            tags.add(v.substring(start, i));
            if (i < n && v.charAt(i) != ',' && v.charAt(i) != ' ' && v.charAt(i) != '\t') {
                return null;
            }
        }
        return tags.isEmpty() ? null : tags;
    }

    /** {@code entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE} (8.8.3). */
    static boolean isEntityTag(String s) {
        int i = s.startsWith("W/") ? 2 : 0;
        if (s.length() < i + 2 || s.charAt(i) != '"' || s.charAt(s.length() - 1) != '"') {
            return false;
        }
        for (int k = i + 1; k < s.length() - 1; k++) {
            if (!etagc(s.charAt(k))) {
                return false;
            }
        }
        return true;
    }

    /** {@code etagc = %x21 / %x23-7E / obs-text}. */
    private static boolean etagc(char c) {
        return c == 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
    }
}
