package dev.sluice.cache;

import java.time.DayOfWeek;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.format.TextStyle;
import java.util.Locale;

/**
 * HTTP dates (RFC 9110 5.6.7, English day and month names): IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept,
 * as epoch seconds. Sent dates are always IMF-fixdate.
 */
public final class HttpDate {
    /** What {@link #parse} returns for a value that is not a date. */
    public static final long INVALID = Long.MIN_VALUE;

    private static final DateTimeFormatter IMF = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.ENGLISH);
    /** RFC 850 after its day name: parsed apart, because the day can only be checked once the century is known. */
    private static final DateTimeFormatter RFC850 = DateTimeFormatter.ofPattern("dd-MMM-yy HH:mm:ss 'GMT'", Locale.ENGLISH);
    private static final DateTimeFormatter ASCTIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ENGLISH);

    private HttpDate() {}

    /**
     * Epoch seconds of an HTTP date, or {@link #INVALID}. A two-digit RFC 850 year that would be more than 50 years
     * in the future is read in the past century (RFC 9110 5.6.7). The day name must match the date.
     */
    public static long parse(String value, long nowSeconds) {
        if (value == null) {
            return INVALID;
        }
        String v = value.trim();
        try {
            if (v.length() == 29 && v.charAt(3) == ',') {
                return checked(LocalDateTime.parse(v, IMF), v.substring(0, 3));
            }
            if (v.length() == 24 && v.charAt(3) == ' ') {
                return checked(LocalDateTime.parse(v, ASCTIME), v.substring(0, 3));
            }
            int comma = v.indexOf(',');
            if (comma > 0 && v.endsWith(" GMT") && v.length() > comma + 2 && v.charAt(comma + 1) == ' ') {
                LocalDateTime t = LocalDateTime.parse(v.substring(comma + 2), RFC850);
                // yy is read by java.time as 2000-2099; RFC 9110: more than 50 years ahead is the past century
                if (t.toEpochSecond(ZoneOffset.UTC) > nowSeconds + 50L * 365 * 86400) {
                    t = t.minusYears(100);
                }
                return checkedFull(t, v.substring(0, comma));
            }
        } catch (DateTimeParseException e) {
            return INVALID;
        }
        return INVALID;
    }

    private static long checked(LocalDateTime t, String day) {
        return t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH).equals(day)
                ? t.toEpochSecond(ZoneOffset.UTC) : INVALID;
    }

    private static long checkedFull(LocalDateTime t, String day) {
        DayOfWeek d = t.getDayOfWeek();
        return d.getDisplayName(TextStyle.FULL, Locale.ENGLISH).equals(day) ? t.toEpochSecond(ZoneOffset.UTC) : INVALID;
    }

    /** IMF-fixdate of epoch seconds. */
    public static String format(long epochSeconds) {
        return IMF.format(LocalDateTime.ofEpochSecond(epochSeconds, 0, ZoneOffset.UTC));
    }
}
