package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Warm requests (Sluice's own, carrying the process's {@code Sluice-Warm} token): a stored response is answered with
 * its head alone, once the body is in the cache, so warming moves each body once, origin to memory. Through real
 * sockets with the loadtest origin; the bodies the warm requests stored are verified by the hits that follow.
 */
class WarmRequestTest {
    static Fixture fixture() throws Exception {
        return new Fixture(Fixture.simple(CacheTest.CACHED + "sluice.cache.fill-on-abort-max = 1MiB\n"), "o1");
    }

    static TestClient.Response warm(Fixture f, String target, String token) throws Exception {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                    + "Sluice-Warm: " + token + "\r\n\r\n").readHeadOnly();
            String cs = r.header("Cache-Status");
            if (cs != null && (cs.contains("stored") || cs.contains("hit"))) {
                // the head alone: the server closes after it, with no body byte
                assertTrue(c.closedByServer(5000), "nothing after the head: " + r);
            }
            return r;
        }
    }

    @Test
    void aWarmMiss_isAnsweredWithTheHeadOnceStored_andTheNextRequestIsAVerifiedHit() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/w.bin?size=8m&cc=max-age%3D600";
            TestClient.Response r = warm(f, target, f.sluice.warmToken());
            assertEquals(200, r.status);
            assertEquals("8388608", r.header("Content-Length"));
            assertTrue(status(r).startsWith("sluice; fwd=uri-miss; fwd-status=200; stored"), status(r));
            TestClient.Response hit = get(f, target);
            assertTrue(status(hit).startsWith("sluice; hit"), "stored whole though over fill-on-abort-max: " + status(hit));
            assertEquals(8 << 20, hit.bodyLength);
            assertEquals(1, f.upstreamRequests());
            TestClient.Response again = warm(f, target, f.sluice.warmToken());
            assertTrue(status(again).startsWith("sluice; hit"), status(again));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    void aWarmRequestWhoseFillFails_gets502_andNothingIsStored() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/wf.bin?size=2m&cc=max-age%3D600&fault=reset@1m";
            TestClient.Response r = warm(f, target, f.sluice.warmToken());
            assertEquals(502, r.status, r.toString());
            assertFalse(status(get(f, "/objects/wf.bin?size=2m&cc=max-age%3D600")).contains("hit"));
        }
    }

    @Test
    void aWrongToken_isAnOrdinaryRequest_andTheFieldNeverReachesTheOrigin() throws Exception {
        try (Fixture f = fixture(); TestClient c = f.client()) {
            TestClient.Response r = c.send("GET /objects/echo?echo=1 HTTP/1.1\r\nHost: test\r\nSluice-Warm: guess\r\n\r\n")
                    .read();
            assertEquals(200, r.status);
            assertFalse(r.bodyText().toLowerCase(java.util.Locale.ROOT).contains("sluice-warm"), r.bodyText());
            TestClient.Response right = c.send("GET /echo?echo=1 HTTP/1.1\r\nHost: test\r\nSluice-Warm: "
                    + f.sluice.warmToken() + "\r\n\r\n").read();
            assertFalse(right.bodyText().toLowerCase(java.util.Locale.ROOT).contains("sluice-warm"),
                    "not even the right token, on a route that does not cache: " + right.bodyText());
        }
    }

    @Test
    void aWarmRequestForAnUncacheableResponse_getsItWhole_withTheReason() throws Exception {
        try (Fixture f = fixture(); TestClient c = f.client()) {
            String target = "/objects/p.bin?size=100k&cc=private";
            TestClient.Response r = c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\nSluice-Warm: "
                    + f.sluice.warmToken() + "\r\n\r\n").read(false, "/objects/p.bin", 0);
            assertEquals(-1, r.firstMismatch);
            assertEquals(100 * 1024, r.bodyLength);
            assertTrue(status(r).endsWith("detail=private"), status(r));
        }
    }
}
