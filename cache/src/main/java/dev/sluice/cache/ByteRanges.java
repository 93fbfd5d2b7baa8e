package dev.sluice.cache;

import java.util.Arrays;

/**
 * A request's {@code Range} field (RFC 9110 14.1.2, 14.2) read against a representation's length: either it is to be
 * ignored (the whole representation is the answer, 200), or no range is satisfiable (416), or the ranges to send
 * (206). This is untrusted input: any value yields one of the three, never an exception.
 *
 * <p>What holds for {@link Kind#RANGES}: 1 to {@link #MAX_RANGES} ranges, each non-empty and inside [0, length),
 * none overlapping or adjacent to another (overlapping and adjacent ones are coalesced, 14.2), so that their total
 * never exceeds the length: a request can never make the answer larger than the body plus part headers. They are
 * in the request's order (the SHOULD of 15.3.7.2) unless coalescing merged some; then in ascending order.
 *
 * <p>Ignored (14.1.1, 14.2 allow a server to ignore Range): a unit other than {@code bytes}, a syntax error, a
 * range whose last-pos is below its first-pos, a zero-length representation (no range of it can be written in a
 * Content-Range), and more than {@link #MAX_RANGES} ranges after coalescing (many small ranges are a sign of a
 * broken client or a denial-of-service attempt, 14.2).
 */
public final class ByteRanges {
    /** Ranges sent as parts at most; more (after coalescing) and the whole representation is sent instead. */
    public static final int MAX_RANGES = 16;

    public enum Kind {
        /** Send the whole representation (200). */
        IGNORE,
        /** No range overlaps the representation (416, {@code Content-Range: bytes *}{@code /length}). */
        UNSATISFIABLE,
        /** Send these ranges (206). */
        RANGES
    }

    public static final ByteRanges IGNORED = new ByteRanges(Kind.IGNORE, new long[0]);
    public static final ByteRanges NONE_SATISFIABLE = new ByteRanges(Kind.UNSATISFIABLE, new long[0]);

    private final Kind kind;
    /** Pairs: start, end (exclusive). */
    private final long[] bounds;

    private ByteRanges(Kind kind, long[] bounds) {
        this.kind = kind;
        this.bounds = bounds;
    }

    public Kind kind() {
        return kind;
    }

    public int count() {
        return bounds.length / 2;
    }

    /** First byte of range {@code i}. */
    public long start(int i) {
        return bounds[2 * i];
    }

    /** One past the last byte of range {@code i}. */
    public long end(int i) {
        return bounds[2 * i + 1];
    }

    /** Bytes in all ranges. */
    public long total() {
        long t = 0;
        for (int i = 0; i < count(); i++) {
            t += end(i) - start(i);
        }
        return t;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(kind.name());
        for (int i = 0; i < count(); i++) {
            b.append(i == 0 ? " " : ",").append(start(i)).append('-').append(end(i) - 1);
        }
        return b.toString();
    }

    /**
     * Reads {@code value} (the field's lines joined, or null when absent) against a representation of {@code length}
     * bytes.
     */
    public static ByteRanges parse(String value, long length) {
        if (value == null || length <= 0) {
            return IGNORED;
        }
        int n = value.length();
        int i = skipOws(value, 0);
        // range-unit is case-insensitive (14.1); no whitespace around "="
        if (!value.regionMatches(true, i, "bytes=", 0, 6)) {
            return IGNORED;
        }
        i += 6;
        // at most one spec per ',' plus one: bounds sized once
        int specs = 1;
        for (int k = i; k < n; k++) {
            if (value.charAt(k) == ',') {
                specs++;
            }
        }
        long[] found = new long[2 * specs];
        int satisfiable = 0;
        int elements = 0;
        while (true) {
            i = skipOws(value, i);
            if (i < n && value.charAt(i) != ',') {
                // a range-spec: int-range (first "-" [last]) or suffix-range ("-" suffix-length)
                long first = -1;
                int d = digitsEnd(value, i);
                if (d > i) {
                    first = number(value, i, d);
                    i = d;
                }
                if (i >= n || value.charAt(i) != '-') {
                    return IGNORED;
                }
                i++;
                d = digitsEnd(value, i);
                long last = d > i ? number(value, i, d) : -1;
                i = d;
                elements++;
                if (first < 0) {
                    if (last < 0) {
                        return IGNORED; // "-" alone
                    }
                    if (last > 0) { // suffix-length 0 is unsatisfiable (14.1.1)
                        found[2 * satisfiable] = Math.max(0, length - last);
                        found[2 * satisfiable + 1] = length;
                        satisfiable++;
                    }
                } else {
                    if (last >= 0 && last < first) {
                        return IGNORED; // invalid (14.1.1): the whole field is ignored
                    }
                    if (first < length) {
                        found[2 * satisfiable] = first;
                        found[2 * satisfiable + 1] = last < 0 || last >= length - 1 ? length : last + 1;
                        satisfiable++;
                    }
                }
                i = skipOws(value, i);
            }
            if (i >= n) {
                break;
            }
            if (value.charAt(i) != ',') {
                return IGNORED;
            }
            i++; // empty list elements are allowed and skipped (RFC 9110 5.6.1)
        }
        if (elements == 0) {
            return IGNORED;
        }
        if (satisfiable == 0) {
            return NONE_SATISFIABLE;
        }
        return coalesce(Arrays.copyOf(found, 2 * satisfiable));
    }

    /** Overlapping and adjacent ranges merged; the request's order kept when nothing merged. */
    private static ByteRanges coalesce(long[] ranges) {
        int count = ranges.length / 2;
        Integer[] order = new Integer[count];
        for (int k = 0; k < count; k++) {
            order[k] = k;
        }
        Arrays.sort(order, (a, b) -> Long.compare(ranges[2 * a], ranges[2 * b]));
        long[] merged = new long[ranges.length];
        int m = 0;
        for (int k = 0; k < count; k++) {
            long s = ranges[2 * order[k]];
            long e = ranges[2 * order[k] + 1];
            if (m > 0 && s <= merged[2 * m - 1]) {
                merged[2 * m - 1] = Math.max(merged[2 * m - 1], e);
            } else {
                merged[2 * m] = s;
                merged[2 * m + 1] = e;
                m++;
            }
        }
        if (m > MAX_RANGES) {
            return IGNORED;
        }
        return new ByteRanges(Kind.RANGES, m == count ? ranges : Arrays.copyOf(merged, 2 * m));
    }

    private static int skipOws(String s, int i) {
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
            i++;
        }
        return i;
    }

    private static int digitsEnd(String s, int i) {
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        return i;
    }

    /** The decimal number in [from, to); saturates at Long.MAX_VALUE (any such position is past any body). */
    private static long number(String s, int from, int to) {
        long v = 0;
        for (int k = from; k < to; k++) {
            int digit = s.charAt(k) - '0';
            if (v > (Long.MAX_VALUE - digit) / 10) {
                return Long.MAX_VALUE;
            }
            v = v * 10 + digit;
        }
        return v;
    }
}
