package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sluice.cache.Preconditions.Outcome;
import dev.sluice.cache.Preconditions.Validators;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 9110 13.1 and 13.2.2, one row per rule, against a stored response with known validators. */
class PreconditionsTest {
    /** The cache's clock: Sun, 06 Nov 1994 08:49:37 GMT plus a day. */
    private static final long NOW = 784_111_777L + 86_400;
    private static final String LM = "Sun, 06 Nov 1994 08:49:37 GMT";
    /** Stored Date: an hour after LM, so LM is strong (8.8.2.2). */
    private static final String DATE = "Sun, 06 Nov 1994 09:49:37 GMT";

    private static Validators stored(String etag, String lm, String date) {
        return Validators.of(etag.isEmpty() ? null : etag, lm.isEmpty() ? null : lm, date.isEmpty() ? null : date, NOW);
    }

    private static TestFields fields(String spec) {
        TestFields f = new TestFields();
        if (spec == null || spec.isBlank()) {
            return f;
        }
        String[] parts = spec.split(";;");
        String[] nv = new String[parts.length * 2];
        for (int i = 0; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            nv[2 * i] = parts[i].substring(0, eq).strip();
            nv[2 * i + 1] = parts[i].substring(eq + 1);
        }
        return TestFields.of(nv);
    }

    /**
     * Rows: method | request fields (name=value;;...) | stored ETag | stored Last-Modified ("lm" = LM, "" = none) |
     * expected outcome. The stored Date is DATE.
     */
    @ParameterizedTest(name = "{0} [{1}] etag={2} lm={3} -> {4}")
    @CsvSource(delimiter = '|', value = {
            "GET  |                                        | \"a\"   | lm | PROCEED",
            // 13.1.2 If-None-Match: weak comparison, lists, "*"
            "GET  | If-None-Match=\"a\"                    | \"a\"   | lm | NOT_MODIFIED",
            "HEAD | If-None-Match=\"a\"                    | \"a\"   | lm | NOT_MODIFIED",
            "GET  | If-None-Match=W/\"a\"                  | \"a\"   | lm | NOT_MODIFIED",
            "GET  | If-None-Match=\"a\"                    | W/\"a\" | lm | NOT_MODIFIED",
            "GET  | If-None-Match=\"x\", \"a\"             | \"a\"   | lm | NOT_MODIFIED",
            "GET  | If-None-Match=\"x\";;If-None-Match=\"a\" | \"a\" | lm | NOT_MODIFIED",
            "GET  | If-None-Match=\"x\" ,, W/\"y\"         | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=*                        | \"a\"   | lm | NOT_MODIFIED",
            "GET  | If-None-Match=*                        |         |    | NOT_MODIFIED",
            "GET  | If-None-Match=\"a\"                    |         | lm | PROCEED",
            "GET  | If-None-Match=\"A\"                    | \"a\"   | lm | PROCEED",
            "POST | If-None-Match=\"a\"                    | \"a\"   | lm | PRECONDITION_FAILED",
            // 13.2.2 step 3 before 4: If-None-Match present, If-Modified-Since is not looked at
            "GET  | If-None-Match=\"x\";;If-Modified-Since=" + LM + " | \"a\" | lm | PROCEED",
            // malformed entity tags: the field is treated as absent (then If-Modified-Since decides)
            "GET  | If-None-Match=a                        | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=\"a                      | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=\"a\"\"b\"               | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=*, \"a\"                 | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=w/\"a\"                  | \"a\"   | lm | PROCEED",
            "GET  | If-None-Match=a;;If-Modified-Since=" + LM + " | \"a\" | lm | NOT_MODIFIED",
            // a malformed stored ETag never matches
            "GET  | If-None-Match=\"a\"                    | a       | lm | PROCEED",
            // 13.1.3 If-Modified-Since: every HTTP-date form, equal or later than Last-Modified -> 304
            "GET  | If-Modified-Since=" + LM + "                  | \"a\" | lm | NOT_MODIFIED",
            "GET  | If-Modified-Since=Sunday, 06-Nov-94 08:49:37 GMT | \"a\" | lm | NOT_MODIFIED",
            "GET  | If-Modified-Since=Sun Nov  6 08:49:37 1994     | \"a\" | lm | NOT_MODIFIED",
            "GET  | If-Modified-Since=Sun, 06 Nov 1994 08:49:38 GMT | \"a\" | lm | NOT_MODIFIED",
            "GET  | If-Modified-Since=Sun, 06 Nov 1994 08:49:36 GMT | \"a\" | lm | PROCEED",
            "HEAD | If-Modified-Since=" + LM + "                  | \"a\" | lm | NOT_MODIFIED",
            "POST | If-Modified-Since=" + LM + "                  | \"a\" | lm | PROCEED",
            // ignored: not a valid date, a list, a date in the future (after the cache's clock)
            "GET  | If-Modified-Since=garbage                      | \"a\" | lm | PROCEED",
            "GET  | If-Modified-Since=Mon, 06 Nov 1994 08:49:37 GMT | \"a\" | lm | PROCEED",
            "GET  | If-Modified-Since=" + LM + ";;If-Modified-Since=" + LM + " | \"a\" | lm | PROCEED",
            "GET  | If-Modified-Since=Fri, 01 Jan 2100 00:00:00 GMT | \"a\" | lm | PROCEED",
            // RFC 9111 4.3.2: without Last-Modified a cache compares with the stored Date
            "GET  | If-Modified-Since=" + DATE + "                | \"a\" |    | NOT_MODIFIED",
            "GET  | If-Modified-Since=" + LM + "                  | \"a\" |    | PROCEED",
            // 13.1.1 If-Match: strong comparison, "*"; failing -> 412
            "GET  | If-Match=\"a\"                         | \"a\"   | lm | PROCEED",
            "GET  | If-Match=\"x\", \"a\"                  | \"a\"   | lm | PROCEED",
            "GET  | If-Match=*                             | \"a\"   | lm | PROCEED",
            "GET  | If-Match=\"x\"                         | \"a\"   | lm | PRECONDITION_FAILED",
            "GET  | If-Match=W/\"a\"                       | \"a\"   | lm | PRECONDITION_FAILED",
            "GET  | If-Match=\"a\"                         | W/\"a\" | lm | PRECONDITION_FAILED",
            "GET  | If-Match=\"a                           | \"a\"   | lm | PRECONDITION_FAILED",
            // 13.2.2 step 1 before 3: If-Match fails first
            "GET  | If-Match=\"x\";;If-None-Match=\"a\"    | \"a\"   | lm | PRECONDITION_FAILED",
            "GET  | If-Match=\"a\";;If-None-Match=\"a\"    | \"a\"   | lm | NOT_MODIFIED",
            // 13.1.4 If-Unmodified-Since, only without If-Match
            "GET  | If-Unmodified-Since=" + LM + "                  | \"a\" | lm | PROCEED",
            "GET  | If-Unmodified-Since=Sun, 06 Nov 1994 08:49:36 GMT | \"a\" | lm | PRECONDITION_FAILED",
            "GET  | If-Unmodified-Since=garbage                      | \"a\" | lm | PROCEED",
            "GET  | If-Unmodified-Since=Sun, 06 Nov 1994 08:49:36 GMT | \"a\" |    | PROCEED",
            "GET  | If-Match=\"a\";;If-Unmodified-Since=Sun, 06 Nov 1994 08:49:36 GMT | \"a\" | lm | PROCEED"})
    void evaluate(String method, String req, String etag, String lm, Outcome expected) {
        Validators v = stored(etag == null ? "" : etag.strip(), "lm".equals(lm) ? LM : "", DATE);
        assertEquals(expected, Preconditions.evaluate(method, fields(req), v, NOW));
    }

    /** Rows: If-Range value | stored ETag | stored Last-Modified | stored Date | honour the Range? */
    @ParameterizedTest(name = "If-Range [{0}] etag={1} lm={2} date={3} -> {4}")
    @CsvSource(delimiter = '|', value = {
            // 13.1.5: a strong entity tag, strongly compared
            "\"a\"                            | \"a\"   | " + LM + " | " + DATE + " | true",
            "\"b\"                            | \"a\"   | " + LM + " | " + DATE + " | false",
            "W/\"a\"                          | \"a\"   | " + LM + " | " + DATE + " | false",
            "\"a\"                            | W/\"a\" | " + LM + " | " + DATE + " | false",
            "\"a                              | \"a\"   | " + LM + " | " + DATE + " | false",
            "\"a\", \"b\"                     | \"a\"   | " + LM + " | " + DATE + " | false",
            // an HTTP-date equal to a strong Last-Modified (8.8.2.2: Date at least a second later)
            LM + "                            | \"a\"   | " + LM + " | " + DATE + " | true",
            "Sunday, 06-Nov-94 08:49:37 GMT   | \"a\"   | " + LM + " | " + DATE + " | true",
            "Sun Nov  6 08:49:37 1994         | \"a\"   | " + LM + " | " + DATE + " | true",
            "Sun, 06 Nov 1994 08:49:38 GMT    | \"a\"   | " + LM + " | " + DATE + " | false",
            LM + "                            | \"a\"   | " + LM + " | " + LM + "   | false",
            LM + "                            | \"a\"   |            | " + DATE + " | false",
            "garbage                          | \"a\"   | " + LM + " | " + DATE + " | false"})
    void ifRange(String value, String etag, String lm, String date, boolean expected) {
        Validators v = stored(etag, lm == null ? "" : lm, date == null ? "" : date);
        assertEquals(expected, Preconditions.ifRange(TestFields.of("If-Range", value), v, NOW));
    }

    @org.junit.jupiter.api.Test
    void ifRangeAbsentHonoursTheRangeAndSeveralDoNot() {
        Validators v = stored("\"a\"", LM, DATE);
        assertEquals(true, Preconditions.ifRange(TestFields.of(), v, NOW));
        assertEquals(false, Preconditions.ifRange(TestFields.of("If-Range", "\"a\"", "If-Range", "\"a\""), v, NOW));
    }
}
