package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 9111 3 and 3.5 for a shared cache, one row per rule: what is stored, and the reason when not. */
class StorabilityTest {
    private static final long T = 1_796_000_000L;

    /** Rows: method | request fields (name=value;...) | status | response fields | expected reason ("" = store). */
    @ParameterizedTest(name = "{0} {1} {2} {3} -> {4}")
    @CsvSource(delimiter = '|', value = {
            "GET  |                          | 200 | Cache-Control=max-age=60           | ",
            "GET  |                          | 200 | Expires=Sun, 06 Nov 2050 08:49:37 GMT | ",
            "GET  |                          | 404 | Cache-Control=max-age=60           | ",
            "GET  |                          | 200 | Cache-Control=public               | ",
            "GET  |                          | 200 | Cache-Control=no-cache;ETag=\"x\"  | ",
            "GET  |                          | 200 | Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | ",
            "HEAD |                          | 200 | Cache-Control=max-age=60           | method",
            "POST |                          | 200 | Cache-Control=max-age=60           | method",
            "GET  |                          | 206 | Cache-Control=max-age=60           | partial-content",
            "GET  |                          | 304 | Cache-Control=max-age=60           | not-modified",
            "GET  |                          | 299 | Cache-Control=max-age=60           | ",
            "GET  |                          | 599 | Cache-Control=max-age=60           | ",
            "GET  |                          | 200 | Cache-Control=no-store, max-age=60 | no-store",
            "GET  | Cache-Control=no-store   | 200 | Cache-Control=max-age=60           | request-no-store",
            "GET  |                          | 200 | Cache-Control=private, max-age=60  | private",
            "GET  |                          | 200 | Cache-Control=private=\"X-A\", max-age=60 | private",
            "GET  | Authorization=Basic eA== | 200 | Cache-Control=max-age=60           | authorization",
            "GET  | Authorization=Basic eA== | 200 | Cache-Control=s-maxage=60          | ",
            "GET  | Authorization=Basic eA== | 200 | Cache-Control=public, max-age=60   | ",
            "GET  | Authorization=Basic eA== | 200 | Cache-Control=must-revalidate, max-age=60 | ",
            "GET  |                          | 200 | Cache-Control=max-age=60;Set-Cookie=a=b | set-cookie",
            "GET  |                          | 200 | Cache-Control=max-age=60;Vary=*    | vary-star",
            "GET  |                          | 200 | Cache-Control=max-age=60;Vary=Accept, *  | vary-star",
            "GET  |                          | 200 |                                    | no-freshness",
            "GET  |                          | 302 | Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | no-freshness",
            "GET  |                          | 200 | Cache-Control=no-cache             | no-freshness",
            "GET  |                          | 200 | ETag=\"v1\"                         | ",
            "GET  |                          | 404 | ETag=\"v1\"                         | ",
            "GET  |                          | 302 | ETag=\"v1\"                         | no-freshness",
            "GET  |                          | 200 | Cache-Control=no-cache;ETag=\"v1\"  | ",
            "GET  |                          | 299 | Cache-Control=must-understand, max-age=60 | must-understand"})
    void decide(String method, String reqFields, int status, String respFields, String expected) {
        TestFields req = fields(reqFields);
        TestFields resp = fields(respFields);
        Freshness f = Freshness.of(resp, CacheControl.of(resp), status, T, T, 86400, 0, false);
        Storability.Decision d = Storability.decide(method, req, CacheControl.of(req), status, resp,
                CacheControl.of(resp), f, Storability.Policy.DEFAULT);
        assertEquals(expected == null ? null : expected, d.reason());
    }

    private static TestFields fields(String spec) {
        TestFields f = TestFields.of();
        if (spec == null) {
            return f;
        }
        java.util.List<String> nv = new java.util.ArrayList<>();
        for (String pair : spec.split(";(?=[A-Za-z-]+=)")) {
            int eq = pair.indexOf('=');
            nv.add(pair.substring(0, eq).trim());
            nv.add(pair.substring(eq + 1).trim());
        }
        return TestFields.of(nv.toArray(new String[0]));
    }
}
