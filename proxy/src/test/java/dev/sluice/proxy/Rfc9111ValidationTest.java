package dev.sluice.proxy;

import static dev.sluice.proxy.CacheFillTest.metric;
import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * RFC 9111 section 4.3 (validation) and 3.2 (updating stored header fields), through real sockets: the loadtest
 * origin answers If-None-Match and If-Modified-Since with 304 as a storage server does. The {@code /v/} route keys
 * without the query, so a test changes what the origin says about an object (its freshness, its status, its ETag)
 * with the query while the cache sees one URL. Every body is verified against the payload of its path.
 */
class Rfc9111ValidationTest {
    static final String ROUTES = """
            sluice.routes = [ { name = v, path-prefix = "/v/", upstream = origin, cache { enabled = true, key.query = none } },
                              { name = main, upstream = origin } ]
            sluice.cache.memory = 64MiB
            """;
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture() throws Exception {
        return new Fixture(clock::get, Fixture.simple(ROUTES), "o1");
    }

    static double revalidations(Fixture f, String outcome) {
        return metric(f, "sluice_cache_revalidations_total{outcome=\"" + outcome + "\"}");
    }

    @Test
    void section4_3_1_MUST_sendTheEntityTag_and_4_3_3_SHOULD_answerA304FromTheStoredBody() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/a.bin?size=300k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(61);
            // the origin answers 304 only to If-None-Match: "v1"; its 304 says max-age=7200 now
            TestClient.Response r = get(f, "/v/a.bin?size=300k&cc=max-age%3D7200&etag=v1");
            assertEquals(200, r.status);
            assertEquals(300 * 1024, r.bodyLength);
            assertTrue(status(r).matches("sluice; fwd=stale; fwd-status=304; ttl=71\\d\\d"), status(r));
            assertEquals(2, f.upstreamRequests());
            assertEquals(1.0, revalidations(f, "not-modified"));
            // 3.2: the stored head took the 304's Cache-Control, and freshness was computed again from it
            TestClient.Response hit = get(f, "/v/a.bin");
            assertTrue(status(hit).matches("sluice; hit; ttl=71\\d\\d"), status(hit));
            assertEquals("max-age=7200", hit.header("Cache-Control"));
            assertEquals("\"v1\"", hit.header("ETag"));
            assertEquals(2, f.upstreamRequests(), "the refreshed response is fresh: no third request");
        }
    }

    /** 4.3.2: a client's conditional request for a stale response validates it, then is judged against the result. */
    @Test
    void section4_3_2_aClientsConditionalRequestForAStaleResponse_validatesIt_thenGetsItsOwnAnswer() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/cc.bin?size=50k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(61);
            try (TestClient c = f.client()) {
                // the client holds "v1": the cache validates its stored "v1" (304), and answers the client 304
                TestClient.Response r = c.send("GET /v/cc.bin?size=50k&cc=max-age%3D7200&etag=v1 HTTP/1.1\r\nHost: test\r\n"
                        + "If-None-Match: \"v1\"\r\n\r\n").read();
                assertEquals(304, r.status, r.toString());
                assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=304"), status(r));
                // a client holding another tag gets the refreshed body, from cache
                TestClient.Response other = c.send("GET /v/cc.bin HTTP/1.1\r\nHost: test\r\nIf-None-Match: \"x\"\r\n\r\n")
                        .read(false, "/v/cc.bin", 0);
                assertEquals(200, other.status);
                assertEquals(-1, other.firstMismatch);
                assertEquals(50 * 1024, other.bodyLength);
                assertTrue(status(other).startsWith("sluice; hit"), "refreshed by the first: " + status(other));
            }
            assertEquals(2, f.upstreamRequests());
            assertEquals(1.0, revalidations(f, "not-modified"));
        }
    }

    @Test
    void section4_3_2_aClientsConditionalRequest_whenTheObjectChanged_storesTheNewOne_andAnswersTheClient() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/cm.bin?size=2m&cc=max-age%3D60&etag=v1");
            clock.addAndGet(61);
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /v/cm.bin?size=2m&cc=max-age%3D7200&etag=v2 HTTP/1.1\r\nHost: test\r\n"
                        + "If-None-Match: \"v1\"\r\n\r\n").read(false, "/v/cm.bin", 0);
                assertEquals(200, r.status, "the client's v1 is not current: the new body");
                assertEquals(2 << 20, r.bodyLength);
                assertEquals("\"v2\"", r.header("ETag"));
                TestClient.Response now = c.send("GET /v/cm.bin HTTP/1.1\r\nHost: test\r\nIf-None-Match: \"v2\"\r\n\r\n").read();
                assertEquals(304, now.status, "v2 stored: a client holding it gets 304 from cache");
                assertTrue(status(now).startsWith("sluice; hit"), status(now));
            }
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void section4_3_1_SHOULD_sendLastModified_whenThereIsNoEntityTag() throws Exception {
        try (Fixture f = fixture()) {
            long lm = clock.get() - 3600;
            get(f, "/v/lm.bin?size=10k&cc=max-age%3D60&lm=" + lm);
            clock.addAndGet(61);
            TestClient.Response r = get(f, "/v/lm.bin?size=10k&cc=max-age%3D60&lm=" + lm);
            assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=304"), status(r));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void section4_3_3_aFullResponseToAValidation_replacesTheStoredOne() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/m.bin?size=64k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(61);
            TestClient.Response r = get(f, "/v/m.bin?size=64k&cc=max-age%3D7200&etag=v2");
            assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=200; stored"), status(r));
            assertEquals("\"v2\"", r.header("ETag"));
            assertEquals(1.0, revalidations(f, "modified"));
            TestClient.Response hit = get(f, "/v/m.bin");
            assertTrue(status(hit).startsWith("sluice; hit"), status(hit));
            assertEquals("\"v2\"", hit.header("ETag"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void section5_2_1_4_requestNoCache_validatesAFreshResponse_andA304IsAnsweredFromCache() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/nc.bin?size=10k&cc=max-age%3D3600&etag=v1");
            TestClient.Response r = get(f, "/v/nc.bin?size=10k&cc=max-age%3D3600&etag=v1", "Cache-Control: no-cache");
            assertTrue(status(r).startsWith("sluice; fwd=request; fwd-status=304"), status(r));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void section5_2_2_4_responseNoCache_isStoredAndValidatedOnEveryUse() throws Exception {
        try (Fixture f = fixture()) {
            TestClient.Response first = get(f, "/v/rnc.bin?size=10k&cc=no-cache&etag=v1");
            assertTrue(status(first).contains("stored"), status(first));
            for (int i = 0; i < 3; i++) {
                TestClient.Response r = get(f, "/v/rnc.bin?size=10k&cc=no-cache&etag=v1");
                assertTrue(status(r).startsWith("sluice; fwd=stale; fwd-status=304"), status(r));
            }
            assertEquals(4, f.upstreamRequests());
            assertEquals(3.0, revalidations(f, "not-modified"));
        }
    }

    @Test
    void section3_validatableResponsesWithoutFreshness_areStoredAndValidated() throws Exception {
        try (Fixture f = fixture()) {
            // a storage server's plain GET answer: an ETag, no Cache-Control, no Last-Modified
            TestClient.Response first = get(f, "/v/s3.bin?size=1m&etag=abc");
            assertTrue(status(first).contains("stored"), status(first));
            TestClient.Response second = get(f, "/v/s3.bin?size=1m&etag=abc");
            assertTrue(status(second).startsWith("sluice; fwd=stale; fwd-status=304"), status(second));
            assertEquals(1 << 20, second.bodyLength);
        }
    }

    @Test
    void section4_3_validationsOfOneKey_areCollapsed_intoOneRequest() throws Exception {
        try (Fixture f = fixture()) {
            get(f, "/v/c.bin?size=200k&cc=max-age%3D60&etag=v1");
            clock.addAndGet(61);
            ExecutorService pool = Executors.newFixedThreadPool(20);
            try {
                List<Future<TestClient.Response>> results = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    // the origin takes 300 ms to answer: the others arrive while the first validation is out
                    Callable<TestClient.Response> c = () -> get(f, "/v/c.bin?size=200k&cc=max-age%3D7200&etag=v1&delay=300");
                    results.add(pool.submit(c));
                }
                for (Future<TestClient.Response> r : results) {
                    assertEquals(200 * 1024, r.get().bodyLength);
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(2, f.upstreamRequests(), "one validation for 20 requests");
        }
    }

    /** 4.3.4: a 304 naming another representation updates nothing; the response must come from a full request. */
    @Test
    void section4_3_4_a304ThatChangesTheEntityTag_updatesNothing_andTheRequestIsAskedAgainUnconditionally() throws Exception {
        AtomicLong n = new AtomicLong();
        try (RawOrigin origin = new RawOrigin(x -> {
                    long i = n.getAndIncrement();
                    if (i == 0) {
                        x.send("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\nfirst");
                    } else if (x.header("If-None-Match") != null) {
                        x.send("HTTP/1.1 304 Not Modified\r\nETag: \"v2\"\r\nCache-Control: max-age=60\r\n\r\n");
                    } else {
                        x.send("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v2\"\r\nContent-Length: 6\r\n\r\nsecond");
                    }
                });
                Fixture f = new Fixture(clock::get, origin.config(ROUTES), "unused");
                TestClient c = f.client()) {
            assertEquals("first", c.send("GET /v/x HTTP/1.1\r\nHost: test\r\n\r\n").read().bodyText());
            clock.addAndGet(61);
            TestClient.Response r = c.send("GET /v/x HTTP/1.1\r\nHost: test\r\n\r\n").read();
            assertEquals(200, r.status);
            assertEquals("second", r.bodyText());
            assertEquals("\"v2\"", r.header("ETag"));
            assertEquals(3, origin.heads.size(), origin.heads.toString());
            assertTrue(RawOrigin.header(origin.heads.get(1), "If-None-Match").equals("\"v1\""), origin.heads.get(1));
            assertNull(RawOrigin.header(origin.heads.get(2), "If-None-Match"), "asked again without the condition");
            assertEquals(1.0, revalidations(f, "mismatch"));
            assertEquals("second", c.send("GET /v/x HTTP/1.1\r\nHost: test\r\n\r\n").read().bodyText(), "and stored");
            assertEquals(3, origin.heads.size());
        }
    }

    @Test
    void section3_MUST_NOT_storeA304_thatNoConditionOfTheCacheAskedFor() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.send(
                        "HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\n\r\n"));
                Fixture f = new Fixture(clock::get, origin.config(ROUTES), "unused");
                TestClient c = f.client()) {
            for (int i = 1; i <= 2; i++) {
                TestClient.Response r = c.send("GET /v/nm HTTP/1.1\r\nHost: test\r\n\r\n").read();
                assertEquals(304, r.status);
                assertTrue(status(r).endsWith("detail=not-modified"), status(r));
                assertEquals(i, origin.heads.size(), "never answered from cache");
            }
        }
    }

    @Test
    void section4_3_4_a304WithAnotherContentLength_describesAnotherRepresentation_andIsNotUsed() throws Exception {
        AtomicLong n = new AtomicLong();
        try (RawOrigin origin = new RawOrigin(x -> {
                    long i = n.getAndIncrement();
                    if (i == 0) {
                        x.send("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\nfirst");
                    } else if (x.header("If-None-Match") != null) {
                        x.send("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 6\r\n\r\n");
                    } else {
                        x.send("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\nContent-Length: 6\r\n\r\nsecond");
                    }
                });
                Fixture f = new Fixture(clock::get, origin.config(ROUTES), "unused");
                TestClient c = f.client()) {
            assertEquals("first", c.send("GET /v/y HTTP/1.1\r\nHost: test\r\n\r\n").read().bodyText());
            clock.addAndGet(61);
            TestClient.Response r = c.send("GET /v/y HTTP/1.1\r\nHost: test\r\n\r\n").read();
            assertEquals("second", r.bodyText());
            assertEquals(3, origin.heads.size(), origin.heads.toString());
        }
    }
}
