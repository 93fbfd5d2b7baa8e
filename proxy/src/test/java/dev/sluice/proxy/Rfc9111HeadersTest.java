package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * RFC 9111 3.1 (what a stored head keeps), 4.2.3 and 5.1 (Age), 4.1 (Vary normalisation) and RFC 9110 7.6.3 (Via)
 * on responses served from cache, through real sockets with the loadtest origin.
 */
class Rfc9111HeadersTest {
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture() throws Exception {
        return new Fixture(clock::get, Fixture.simple(CacheTest.CACHED), "o1");
    }

    @Test
    void section3_1_MUST_NOT_storeHopByHopFields_norTheConnectionOptionsTheyName() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/hop.bin?size=1k&cc=max-age%3D60&hdr=Connection:X-Hop&hdr=X-Hop:1&hdr=Keep-Alive:timeout%3D5"
                    + "&hdr=X-Kept:yes";
            get(f, target);
            TestClient.Response hit = get(f, target);
            assertTrue(status(hit).startsWith("sluice; hit"), status(hit));
            assertNull(hit.header("X-Hop"));
            assertNull(hit.header("Keep-Alive"));
            assertEquals("yes", hit.header("X-Kept"));
        }
    }

    @Test
    void section5_1_ageIsRecomputedOnEveryHit_dateIsKept_andVia_rfc9110_7_6_3_isAddedOnce() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/age.bin?size=1k&cc=max-age%3D600";
            TestClient.Response miss = get(f, target);
            for (int i = 1; i <= 3; i++) {
                clock.addAndGet(10);
                TestClient.Response hit = get(f, target);
                assertEquals(1, hit.count("Age"));
                long age = Long.parseLong(hit.header("Age"));
                assertTrue(age >= 10L * i && age <= 10L * i + 1, "Age " + age + " after " + 10 * i + " s");
                assertEquals(miss.header("Date"), hit.header("Date"), "the origin's Date, not the time of the hit");
                assertEquals(1, hit.count("Via"));
                assertEquals(miss.header("Via"), hit.header("Via"), "one Via entry for this hop, as on the miss");
            }
        }
    }

    @Test
    void section4_1_varyValues_areNormalised_acceptEncodingTokenOrderAndCaseAndWhitespace() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/vn.bin?size=3k&cc=max-age%3D60&vary=Accept-Encoding";
            get(f, target, "Accept-Encoding: gzip, br");
            assertTrue(status(get(f, target, "Accept-Encoding: br,gzip")).startsWith("sluice; hit"));
            assertTrue(status(get(f, target, "Accept-Encoding:   BR ,  gzip")).startsWith("sluice; hit"));
            assertEquals(1, f.upstreamRequests());
        }
    }
}
