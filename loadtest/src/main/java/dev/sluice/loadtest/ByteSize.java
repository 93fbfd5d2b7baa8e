package dev.sluice.loadtest;

import java.util.Locale;

/** Byte counts written as {@code 1024}, {@code 64k}, {@code 64m}, {@code 2g} (binary multiples; optional b/ib). */
final class ByteSize {
    private ByteSize() {}

    static long parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ib")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("b")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                case 't' -> shift = 40;
                default -> shift = -1;
            }
            if (shift >= 0) {
                t = t.substring(0, t.length() - 1);
            } else {
                shift = 0;
            }
        }
        if (t.isEmpty() || !t.chars().allMatch(c -> c >= '0' && c <= '9') || t.length() > 18) {
            throw new IllegalArgumentException("not a byte size: '" + s + "' (use e.g. 1024, 64k, 64m, 2g)");
        }
        long v = Long.parseLong(t);
        if (v > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("byte size too large: '" + s + "'");
        }
        return v << shift;
    }

    /** Short human form: 1k, 64m, 1.5g, 1000. */
    static String format(long n) {
        String[] units = {"", "k", "m", "g", "t"};
        int u = 0;
        long v = n;
        while (u < units.length - 1 && v != 0 && (v & 1023) == 0) {
            v >>= 10;
            u++;
        }
        return v + units[u];
    }
}
