package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CacheControlTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "max-age=60                 | 60",
            "MAX-AGE=60                 | 60",
            "max-age=\"60\"             | 60",
            "public, max-age=0          | 0",
            "max-age=60, max-age=60     | 60",
            "max-age=99999999999        | 2147483648",
            // invalid or conflicting: stale (RFC 9111 4.2.1)
            "max-age=-1                 | -2",
            "max-age=abc                | -2",
            "max-age=                   | -2",
            "max-age                    | -2",
            "max-age=1.5                | -2",
            "max-age=60, max-age=120    | -2",
            "no-cache                   | -1"})
    void maxAge(String value, long expected) {
        assertEquals(expected, CacheControl.parse(value).maxAge);
    }

    @Test
    void directives() {
        CacheControl cc = CacheControl.parse("public, s-maxage=30, must-revalidate, stale-while-revalidate=5, "
                + "stale-if-error=60, no-transform, x-ext=\"a, b\", immutable");
        assertTrue(cc.isPublic);
        assertEquals(30, cc.sMaxAge);
        assertTrue(cc.mustRevalidate);
        assertEquals(5, cc.staleWhileRevalidate);
        assertEquals(60, cc.staleIfError);
        assertTrue(cc.noTransform);
        assertTrue(cc.immutable);
        assertFalse(cc.noStore);
    }

    @Test
    void qualifiedNoCacheAndPrivate_keepTheirFieldNames_andAQuotedCommaDoesNotSplit() {
        CacheControl cc = CacheControl.parse("no-cache=\"Set-Cookie, X-A\", private=\"X-B\", max-age=5");
        assertFalse(cc.noCache);
        assertEquals("Set-Cookie, X-A", cc.noCacheFields);
        assertFalse(cc.isPrivate);
        assertEquals("X-B", cc.privateFields);
        assertEquals(5, cc.maxAge);
    }

    @Test
    void requestDirectives() {
        CacheControl cc = CacheControl.parse("max-stale, min-fresh=10, only-if-cached, no-store");
        assertTrue(cc.maxStaleAny);
        assertEquals(10, cc.minFresh);
        assertTrue(cc.onlyIfCached);
        assertTrue(cc.noStore);
        assertEquals(30, CacheControl.parse("max-stale=30").maxStale);
    }

    @Test
    void allFieldLinesCount() {
        CacheControl cc = CacheControl.of(TestFields.of("Cache-Control", "public", "Cache-Control", "max-age=7"));
        assertTrue(cc.isPublic);
        assertEquals(7, cc.maxAge);
        assertEquals(CacheControl.NONE, CacheControl.of(TestFields.of()));
    }
}
