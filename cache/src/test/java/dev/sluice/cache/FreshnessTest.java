package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** RFC 9111 4.2 on a fixed clock: lifetimes by precedence, the age calculation, and what invalid input means. */
class FreshnessTest {
    private static final long T = 1_796_000_000L;
    private static final String DATE = HttpDate.format(T);

    private static Freshness of(TestFields resp) {
        return of(resp, 200, 0, 0);
    }

    private static Freshness of(TestFields resp, int status, long heuristicMax, long defaultTtl) {
        return Freshness.of(resp, CacheControl.of(resp), status, T, T, heuristicMax, defaultTtl, true);
    }

    @Test
    void sMaxAge_over_maxAge_over_expires() {
        assertEquals(10, of(TestFields.of("Cache-Control", "max-age=20, s-maxage=10", "Date", DATE)).lifetime());
        Freshness f = of(TestFields.of("Cache-Control", "max-age=20", "Expires", HttpDate.format(T + 99), "Date", DATE));
        assertEquals(20, f.lifetime());
        assertEquals(Freshness.Source.MAX_AGE, f.source());
        f = of(TestFields.of("Expires", HttpDate.format(T + 99), "Date", DATE));
        assertEquals(99, f.lifetime());
        assertEquals(Freshness.Source.EXPIRES, f.source());
    }

    @Test
    void expiresWithoutDate_countsFromTheResponseTime() {
        assertEquals(30, of(TestFields.of("Expires", HttpDate.format(T + 30))).lifetime());
    }

    @Test
    void invalidFreshness_isAlreadyStale() {
        for (TestFields resp : new TestFields[] {
                TestFields.of("Cache-Control", "max-age=-1"),
                TestFields.of("Cache-Control", "max-age=60", "Cache-Control", "max-age=120"),
                TestFields.of("Expires", "0", "Date", DATE),
                TestFields.of("Expires", "not a date"),
                TestFields.of("Expires", HttpDate.format(T + 60), "Expires", HttpDate.format(T + 90))}) {
            Freshness f = of(resp);
            assertEquals(Freshness.Source.INVALID, f.source());
            assertFalse(f.fresh(T), String.valueOf(f));
        }
    }

    @Test
    void age_rfc9111_4_2_3() {
        // sent at T-2, received at T with Date T-5 and Age 3: apparent 5, corrected age value 3 + 2 = 5 -> 5
        TestFields resp = TestFields.of("Cache-Control", "max-age=60", "Date", HttpDate.format(T - 5), "Age", "3");
        Freshness f = Freshness.of(resp, CacheControl.of(resp), 200, T - 2, T, 0, 0, false);
        assertEquals(5, f.correctedInitialAge());
        assertEquals(15, f.age(T + 10));
        assertEquals(45, f.ttl(T + 10));
        // an Age larger than the apparent age wins
        resp = TestFields.of("Cache-Control", "max-age=60", "Date", DATE, "Age", "50");
        f = Freshness.of(resp, CacheControl.of(resp), 200, T, T, 0, 0, false);
        assertEquals(50, f.age(T));
        assertTrue(f.fresh(T + 9));
        assertFalse(f.fresh(T + 10));
    }

    @Test
    void heuristic_isATenthOfTheTimeSinceModification_capped_andOnlyForHeuristicStatuses() {
        TestFields resp = TestFields.of("Date", DATE, "Last-Modified", HttpDate.format(T - 1000));
        Freshness f = of(resp, 200, 86400, 0);
        assertEquals(100, f.lifetime());
        assertEquals(Freshness.Source.HEURISTIC, f.source());
        assertEquals(50, of(resp, 200, 50, 0).lifetime());
        assertEquals(Freshness.Source.NONE, of(resp, 302, 86400, 0).source());
        assertEquals(Freshness.Source.NONE, of(resp, 200, 0, 0).source());
    }

    @Test
    void defaultTtl_onlyWithoutExplicitFreshness_andWhenItApplies() {
        assertEquals(300, of(TestFields.of("Date", DATE), 200, 0, 300).lifetime());
        assertEquals(5, of(TestFields.of("Cache-Control", "max-age=5"), 200, 0, 300).lifetime());
        TestFields resp = TestFields.of("Date", DATE);
        assertEquals(Freshness.Source.NONE,
                Freshness.of(resp, CacheControl.of(resp), 200, T, T, 0, 300, false).source());
    }
}
