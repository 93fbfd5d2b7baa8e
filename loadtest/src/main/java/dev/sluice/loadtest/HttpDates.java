package dev.sluice.loadtest;

import io.netty.handler.codec.DateFormatter;
import java.util.Date;

/** IMF-fixdate formatting with a per-second cache (every origin response carries Date). */
final class HttpDates {
    private record Cached(long second, String text) {}

    private static volatile Cached cached = new Cached(-1, "");

    private HttpDates() {}

    static String now() {
        long ms = System.currentTimeMillis();
        long sec = ms / 1000;
        Cached c = cached;
        if (c.second != sec) {
            c = new Cached(sec, DateFormatter.format(new Date(sec * 1000)));
            cached = c;
        }
        return c.text;
    }

    static String format(long epochSeconds) {
        return DateFormatter.format(new Date(epochSeconds * 1000));
    }

    /** Epoch seconds of an HTTP date, or Long.MIN_VALUE if unparsable. */
    static long parse(CharSequence s) {
        Date d = DateFormatter.parseHttpDate(s);
        return d == null ? Long.MIN_VALUE : Math.floorDiv(d.getTime(), 1000);
    }
}
