package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static dev.sluice.proxy.Rfc9111ValidationTest.revalidations;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * RFC 5861 (stale-while-revalidate, stale-if-error) within RFC 9111 4.2.4 (what forbids serving stale), through
 * real sockets with the loadtest origin. The {@code /v/} route keys without the query, so the query tells the origin
 * to fail ({@code status=503}) for a URL the cache holds.
 */
class Rfc5861StaleTest {
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture(String routeCache) throws Exception {
        return new Fixture(clock::get, Fixture.simple("""
                sluice.routes = [ { name = v, path-prefix = "/v/", upstream = origin,
                                    cache { enabled = true, key.query = none, %s } },
                                  { name = main, upstream = origin } ]
                sluice.cache.memory = 64MiB
                # a closed origin's pooled connection may linger unanswered: the upstream gives no answer in time
                sluice.timeouts.upstream-response = 3s
                """.formatted(routeCache)), "o1");
    }

    @Test
    void section4_staleIfError_servesTheStaleResponseInPlaceOfA5xx_withinItsWindowOnly() throws Exception {
        try (Fixture f = fixture("")) {
            get(f, "/v/e.bin?size=100k&cc=max-age%3D60,stale-if-error%3D600&etag=v1");
            clock.addAndGet(120);
            TestClient.Response r = get(f, "/v/e.bin?size=100k&status=503");
            assertEquals(200, r.status);
            assertEquals(100 * 1024, r.bodyLength);
            assertTrue(status(r).matches("sluice; fwd=stale; fwd-status=503; ttl=-6\\d; detail=stale-if-error"), status(r));
            assertEquals(1.0, revalidations(f, "stale-if-error"));
            clock.addAndGet(600); // now 660 s stale: beyond stale-if-error=600
            TestClient.Response late = get(f, "/v/e.bin?size=100k&status=503");
            assertEquals(503, late.status, late.toString());
        }
    }

    @Test
    void section4_staleIfError_standsInWhenTheOriginCannotBeReached() throws Exception {
        try (Fixture f = fixture("")) {
            get(f, "/v/down.bin?size=10k&cc=max-age%3D60,stale-if-error%3D600&etag=v1");
            clock.addAndGet(120);
            f.origin(0).close();
            TestClient.Response r = get(f, "/v/down.bin?size=10k");
            assertEquals(200, r.status, r.toString());
            // no answer at all (refused, or no response in time): no fwd-status
            assertTrue(status(r).matches("sluice; fwd=stale; ttl=-6\\d; detail=stale-if-error"), status(r));
        }
    }

    @Test
    void section4_theRequestsStaleIfError_andTheRoutesDefault_allowItToo() throws Exception {
        try (Fixture f = fixture("stale-if-error = 10m")) {
            get(f, "/v/d.bin?size=10k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(120);
            TestClient.Response r = get(f, "/v/d.bin?size=10k&status=500");
            assertTrue(status(r).contains("detail=stale-if-error"), status(r));
        }
        try (Fixture f = fixture("")) {
            get(f, "/v/q.bin?size=10k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(120);
            assertEquals(502, get(f, "/v/q.bin?size=10k&status=502").status, "neither the response nor the route allow it");
            TestClient.Response r = get(f, "/v/q.bin?size=10k&status=502", "Cache-Control: stale-if-error=300");
            assertEquals(200, r.status);
        }
    }

    @Test
    void rfc9111_4_2_4_MUST_NOT_serveStale_underMustRevalidate_evenOnError() throws Exception {
        try (Fixture f = fixture("stale-if-error = 10m")) {
            get(f, "/v/mr.bin?size=10k&cc=max-age%3D60,must-revalidate,stale-if-error%3D600&etag=v1");
            clock.addAndGet(120);
            assertEquals(503, get(f, "/v/mr.bin?size=10k&status=503").status);
        }
    }

    @Test
    void rfc9111_5_2_2_2_MUST_NOT_reuseUnderMustRevalidate_whenTheOriginCannotBeReached_SHOULD_answer504() throws Exception {
        try (Fixture f = fixture("stale-if-error = 10m")) {
            get(f, "/v/mr504.bin?size=10k&cc=max-age%3D60,must-revalidate&etag=v1");
            clock.addAndGet(120);
            f.origin(0).close();
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /v/mr504.bin HTTP/1.1\r\nHost: test\r\n\r\n").read();
                assertEquals(504, r.status, r.toString());
            }
        }
    }

    @Test
    void rfc9111_4_3_aHeadForAStaleResponse_isValidated_andA304AnsweredFromTheStoredHead() throws Exception {
        try (Fixture f = fixture("")) {
            get(f, "/v/head.bin?size=10k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(120);
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("HEAD /v/head.bin?cc=max-age%3D3600&etag=v1 HTTP/1.1\r\nHost: test\r\n\r\n")
                        .readHead();
                assertEquals(200, r.status);
                assertEquals("10240", r.header("Content-Length"));
                assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=304"), status(r));
            }
            TestClient.Response hit = get(f, "/v/head.bin?size=10k");
            assertTrue(status(hit).startsWith("sluice; hit"), "the HEAD's 304 refreshed the stored GET: " + status(hit));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void section3_staleWhileRevalidate_servesStaleAtOnce_andValidatesOnceInTheBackground() throws Exception {
        try (Fixture f = fixture("")) {
            get(f, "/v/s.bin?size=100k&cc=max-age%3D60,stale-while-revalidate%3D600&etag=v1&delay=600");
            clock.addAndGet(61);
            for (int i = 0; i < 5; i++) {
                // the origin takes 600 ms to answer the background validation: these are all answered before it
                TestClient.Response r = get(f, "/v/s.bin?size=100k&cc=max-age%3D60,stale-while-revalidate%3D600&etag=v1&delay=600");
                assertEquals(100 * 1024, r.bodyLength);
                assertTrue(status(r).matches("sluice; hit; ttl=-\\d+; detail=stale-while-revalidate"), status(r));
            }
            assertEquals(0.0, revalidations(f, "not-modified"), "the stale responses did not wait for the origin");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (revalidations(f, "not-modified") < 1 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1.0, revalidations(f, "not-modified"), "validated once in the background");
            assertEquals(1.0, revalidations(f, "background"));
            assertEquals(2, f.upstreamRequests(), "one background validation for five stale responses");
        }
    }

    @Test
    void section3_staleWhileRevalidate_endsWithItsWindow_andTheRequestWaitsForTheOrigin() throws Exception {
        try (Fixture f = fixture("")) {
            get(f, "/v/w.bin?size=10k&cc=max-age%3D60,stale-while-revalidate%3D30&etag=v1");
            clock.addAndGet(120);
            TestClient.Response r = get(f, "/v/w.bin?size=10k&cc=max-age%3D60,stale-while-revalidate%3D30&etag=v1");
            assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=304"), status(r));
        }
    }
}
