package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReuseTest {
    private static final long T = 1_796_000_000L;

    /** A response stored at T with {@code respCc}, asked for at T + {@code later} by a request with {@code reqCc}. */
    @ParameterizedTest(name = "stored [{0}], request [{1}], +{2}s -> {3}")
    @CsvSource(delimiter = '|', value = {
            "max-age=60                    |                     | 10  | FRESH",
            "max-age=60                    |                     | 60  | REVALIDATE",
            "max-age=60                    | max-stale           | 600 | STALE_ALLOWED",
            "max-age=60                    | max-stale=30        | 80  | STALE_ALLOWED",
            "max-age=60                    | max-stale=30        | 100 | REVALIDATE",
            "max-age=60, must-revalidate   | max-stale           | 80  | REVALIDATE",
            "max-age=60, proxy-revalidate  | max-stale           | 80  | REVALIDATE",
            "s-maxage=60                   | max-stale           | 80  | REVALIDATE",
            "max-age=60                    | max-age=5           | 10  | REVALIDATE",
            "max-age=60                    | max-age=20          | 10  | FRESH",
            "max-age=60                    | min-fresh=55        | 10  | REVALIDATE",
            "max-age=60                    | min-fresh=40        | 10  | FRESH",
            "max-age=60                    | no-cache            | 0   | REVALIDATE",
            "max-age=60, no-cache          |                     | 0   | REVALIDATE",
            "max-age=60, no-cache=\"X-A\"  |                     | 0   | REVALIDATE",
            "max-age=60                    | max-age=-1          | 0   | REVALIDATE"})
    void verdict(String respCc, String reqCc, long later, Reuse.Verdict expected) {
        TestFields resp = TestFields.of("Cache-Control", respCc, "Date", HttpDate.format(T));
        CacheControl stored = CacheControl.of(resp);
        Freshness f = Freshness.of(resp, stored, 200, T, T, 0, 0, false);
        TestFields req = reqCc == null ? TestFields.of() : TestFields.of("Cache-Control", reqCc);
        assertEquals(expected, Reuse.verdict(f, stored, req, CacheControl.of(req), T + later));
    }

    /** RFC 5861 3 with RFC 9111 4.2.4: stored at T with {@code respCc}, asked at T + {@code later}; route default 0 or 30. */
    @ParameterizedTest(name = "stale-while-revalidate: stored [{0}], request [{1}], +{2}s, route {3} -> {4}")
    @CsvSource(delimiter = '|', value = {
            "max-age=60, stale-while-revalidate=30 |              | 70  | 0  | true",
            "max-age=60, stale-while-revalidate=30 |              | 90  | 0  | true",
            "max-age=60, stale-while-revalidate=30 |              | 91  | 0  | false",
            "max-age=60, stale-while-revalidate=30 |              | 30  | 0  | false",
            "max-age=60                            |              | 70  | 0  | false",
            "max-age=60                            |              | 70  | 30 | true",
            "max-age=60, stale-while-revalidate=0  |              | 70  | 30 | false",
            "max-age=60, stale-while-revalidate=30, must-revalidate |  | 70 | 0 | false",
            "max-age=60, stale-while-revalidate=30, proxy-revalidate |  | 70 | 0 | false",
            "s-maxage=60, stale-while-revalidate=30 |             | 70  | 0  | false",
            "max-age=60, stale-while-revalidate=30, no-cache |    | 70  | 0  | false",
            "max-age=60, stale-while-revalidate=30 | no-cache     | 70  | 0  | false",
            "max-age=60, stale-while-revalidate=30 | max-age=100  | 70  | 0  | false",
            "max-age=60, stale-while-revalidate=30 | max-stale=5  | 70  | 0  | true"})
    void staleWhileRevalidate(String respCc, String reqCc, long later, long routeDefault, boolean expected) {
        TestFields resp = TestFields.of("Cache-Control", respCc, "Date", HttpDate.format(T));
        CacheControl stored = CacheControl.of(resp);
        Freshness f = Freshness.of(resp, stored, 200, T, T, 0, 0, false);
        TestFields req = reqCc == null ? TestFields.of() : TestFields.of("Cache-Control", reqCc);
        assertEquals(expected, Reuse.staleWhileRevalidate(f, stored, req, CacheControl.of(req), T + later, routeDefault));
    }

    @ParameterizedTest(name = "stale-if-error: stored [{0}], request [{1}], +{2}s, route {3} -> {4}")
    @CsvSource(delimiter = '|', value = {
            "max-age=60, stale-if-error=100  |                   | 150 | 0   | true",
            "max-age=60, stale-if-error=100  |                   | 161 | 0   | false",
            "max-age=60                      |                   | 150 | 0   | false",
            "max-age=60                      |                   | 150 | 100 | true",
            "max-age=60, stale-if-error=10   |                   | 150 | 100 | false",
            "max-age=60                      | stale-if-error=200 | 150 | 0  | true",
            "max-age=60, stale-if-error=100, must-revalidate |   | 70  | 0   | false",
            "s-maxage=60, stale-if-error=100 |                   | 70  | 0   | false",
            "max-age=60, stale-if-error=100, no-cache |          | 70  | 0   | false"})
    void staleIfError(String respCc, String reqCc, long later, long routeDefault, boolean expected) {
        TestFields resp = TestFields.of("Cache-Control", respCc, "Date", HttpDate.format(T));
        CacheControl stored = CacheControl.of(resp);
        Freshness f = Freshness.of(resp, stored, 200, T, T, 0, 0, false);
        TestFields req = reqCc == null ? TestFields.of() : TestFields.of("Cache-Control", reqCc);
        assertEquals(expected, Reuse.staleIfError(f, stored, CacheControl.of(req), T + later, routeDefault));
    }

    @Test
    void pragmaNoCache_countsOnlyWithoutCacheControl() {
        TestFields resp = TestFields.of("Cache-Control", "max-age=60");
        CacheControl stored = CacheControl.of(resp);
        Freshness f = Freshness.of(resp, stored, 200, T, T, 0, 0, false);
        TestFields pragma = TestFields.of("Pragma", "no-cache");
        assertEquals(Reuse.Verdict.REVALIDATE, Reuse.verdict(f, stored, pragma, CacheControl.of(pragma), T));
        TestFields both = TestFields.of("Pragma", "no-cache", "Cache-Control", "max-stale");
        assertEquals(Reuse.Verdict.FRESH, Reuse.verdict(f, stored, both, CacheControl.of(both), T));
    }

    @Test
    void invalidation_rfc9111_4_4() {
        java.util.function.Function<String, String> key = t -> CacheKey.primary("h", t, CacheKey.QueryPolicy.ALL);
        TestFields resp = TestFields.of("Location", "http://h/new", "Content-Location", "/cl?x=1");
        assertEquals(List.of("h/o", "h/new", "h/cl?x=1"), Reuse.invalidated("PUT", 201, "h", "/o", resp, key));
        assertEquals(List.of("h/o"), Reuse.invalidated("DELETE", 204, "h", "/o",
                TestFields.of("Location", "http://other/new", "Content-Location", "//other/x"), key));
        assertEquals(List.of(), Reuse.invalidated("POST", 500, "h", "/o", resp, key), "an error invalidates nothing");
        assertEquals(List.of(), Reuse.invalidated("GET", 200, "h", "/o", resp, key), "a safe method invalidates nothing");
        assertEquals(List.of("h/o"), Reuse.invalidated("PATCH", 302, "h", "/o", TestFields.of("Location", "/o"), key));
    }
}
