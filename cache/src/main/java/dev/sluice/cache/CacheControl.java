package dev.sluice.cache;

import java.util.Locale;

/**
 * The Cache-Control directives of a request or response (RFC 9111 5.2), parsed once. Names compare without case;
 * arguments may be tokens or quoted strings; unknown directives are ignored (5.2.3).
 * <p>
 * Delta-seconds directives read {@link #ABSENT} when not given and {@link #INVALID} when given with a value that
 * is not a non-negative integer, or given twice with different values: RFC 9111 4.2.1 lets a cache then consider
 * the response stale, which is what a freshness lifetime of {@code INVALID} means to {@link Freshness}. Values over
 * 2^31 read as 2^31 (1.2.2).
 */
public final class CacheControl {
    public static final long ABSENT = -1;
    public static final long INVALID = -2;
    private static final long MAX_DELTA = 2_147_483_648L;

    /** No directives at all (no field, or an empty one). */
    public static final CacheControl NONE = new CacheControl();

    public long maxAge = ABSENT;
    public long sMaxAge = ABSENT;
    public long maxStale = ABSENT;
    /** {@code max-stale} without a value: any staleness is acceptable. */
    public boolean maxStaleAny;
    public long minFresh = ABSENT;
    public long staleWhileRevalidate = ABSENT;
    public long staleIfError = ABSENT;
    public boolean noStore;
    /** {@code no-cache} without field names: never served without revalidation. */
    public boolean noCache;
    /** {@code no-cache="a, b"}: only those fields need revalidation; null when absent. */
    public String noCacheFields;
    public boolean isPrivate;
    /** {@code private="a, b"}: only those fields are private; null when absent. */
    public String privateFields;
    public boolean isPublic;
    public boolean mustRevalidate;
    public boolean proxyRevalidate;
    public boolean noTransform;
    public boolean onlyIfCached;
    public boolean mustUnderstand;
    public boolean immutable;

    private CacheControl() {}

    /** The directives of {@code fields}' Cache-Control (all its lines), or {@link #NONE}. */
    public static CacheControl of(Fields fields) {
        return parse(fields.joined("Cache-Control"));
    }

    public static CacheControl parse(String value) {
        if (value == null || value.isBlank()) {
            return NONE;
        }
        CacheControl cc = new CacheControl();
        int i = 0;
        int n = value.length();
        while (i < n) {
            // a directive: token [ "=" ( token / quoted-string ) ], list elements separated by commas and OWS
            while (i < n && (value.charAt(i) == ',' || value.charAt(i) == ' ' || value.charAt(i) == '\t')) {
                i++;
            }
            int nameStart = i;
            while (i < n && value.charAt(i) != '=' && value.charAt(i) != ',') {
                i++;
            }
            String name = value.substring(nameStart, i).trim().toLowerCase(Locale.ROOT);
            String arg = null;
            if (i < n && value.charAt(i) == '=') {
                i++;
                while (i < n && (value.charAt(i) == ' ' || value.charAt(i) == '\t')) {
                    i++;
                }
                if (i < n && value.charAt(i) == '"') {
                    StringBuilder b = new StringBuilder();
                    i++;
                    while (i < n && value.charAt(i) != '"') {
                        if (value.charAt(i) == '\\' && i + 1 < n) {
                            i++;
                        }
                        b.append(value.charAt(i++));
                    }
                    i++; // the closing quote (or the end of an unterminated one)
                    arg = b.toString();
                    while (i < n && value.charAt(i) != ',') {
                        i++; // anything between a quoted string and the next comma is not the grammar: ignored
                    }
                } else {
                    int argStart = i;
                    while (i < n && value.charAt(i) != ',') {
                        i++;
                    }
                    arg = value.substring(argStart, i).trim();
                }
            }
            if (!name.isEmpty()) {
                cc.directive(name, arg);
            }
        }
        return cc;
    }

    private void directive(String name, String arg) {
        switch (name) {
            case "max-age" -> maxAge = merge(maxAge, seconds(arg));
            case "s-maxage" -> sMaxAge = merge(sMaxAge, seconds(arg));
            case "max-stale" -> {
                if (arg == null) {
                    maxStaleAny = true;
                } else {
                    maxStale = merge(maxStale, seconds(arg));
                }
            }
            case "min-fresh" -> minFresh = merge(minFresh, seconds(arg));
            case "stale-while-revalidate" -> staleWhileRevalidate = merge(staleWhileRevalidate, seconds(arg));
            case "stale-if-error" -> staleIfError = merge(staleIfError, seconds(arg));
            case "no-store" -> noStore = true;
            case "no-cache" -> {
                if (arg == null || arg.isBlank()) {
                    noCache = true;
                } else {
                    noCacheFields = noCacheFields == null ? arg : noCacheFields + ", " + arg;
                }
            }
            case "private" -> {
                if (arg == null || arg.isBlank()) {
                    isPrivate = true;
                } else {
                    privateFields = privateFields == null ? arg : privateFields + ", " + arg;
                }
            }
            case "public" -> isPublic = true;
            case "must-revalidate" -> mustRevalidate = true;
            case "proxy-revalidate" -> proxyRevalidate = true;
            case "no-transform" -> noTransform = true;
            case "only-if-cached" -> onlyIfCached = true;
            case "must-understand" -> mustUnderstand = true;
            case "immutable" -> immutable = true;
            default -> { } // extensions this cache does not know are ignored (RFC 9111 5.2.3)
        }
    }

    /** delta-seconds (RFC 9111 1.2.2): digits only; larger than 2^31 reads as 2^31. */
    static long seconds(String arg) {
        if (arg == null || arg.isEmpty()) {
            return INVALID;
        }
        long v = 0;
        for (int i = 0; i < arg.length(); i++) {
            char c = arg.charAt(i);
            if (c < '0' || c > '9') {
                return INVALID;
            }
            v = Math.min(MAX_DELTA, v * 10 + (c - '0'));
        }
        return v;
    }

    /** The same directive twice: its value if they agree, else {@link #INVALID} (RFC 9111 4.2.1). */
    private static long merge(long previous, long value) {
        return previous == ABSENT || previous == value ? value : INVALID;
    }
}
