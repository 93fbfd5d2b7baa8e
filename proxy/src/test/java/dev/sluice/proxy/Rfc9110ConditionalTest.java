package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RFC 9110 13 (conditional requests) answered from a stored response, through real sockets with the loadtest
 * origin; RFC 9111 4.3.2 for what a cache must leave to the origin. Bodies are checked against the payload.
 */
class Rfc9110ConditionalTest {
    /** Sun, 06 Nov 1994 08:49:37 GMT: the stored Last-Modified. */
    static final String LM = "Sun, 06 Nov 1994 08:49:37 GMT";
    static final String TARGET = "/objects/c.bin?size=4k&cc=max-age%3D60&etag=v1&lm=784111777&vary=Accept-Encoding"
            + "&hdr=Content-Location:/c&hdr=Expires:Thu,%2001%20Jan%202099%2000:00:00%20GMT&hdr=Content-Language:en";

    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture() throws Exception {
        return new Fixture(clock::get, Fixture.simple(CacheTest.CACHED), "o1");
    }

    static TestClient.Response send(TestClient c, String method, String target, String... headers) throws Exception {
        StringBuilder b = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        c.send(b.append("\r\n").toString());
        TestClient.Response r = c.read(method.equals("HEAD"), CacheTest.path(target), 0);
        assertEquals(-1, r.firstMismatch, () -> "wrong byte in " + target + ": " + r);
        return r;
    }

    static TestClient.Response get(Fixture f, String target, String... headers) throws Exception {
        try (TestClient c = f.client()) {
            return send(c, "GET", target, headers);
        }
    }

    /** Stores TARGET's variant for Accept-Encoding: gzip (the requests below send it too). */
    private static void store(Fixture f, String target) throws Exception {
        TestClient.Response r = get(f, target, "Accept-Encoding: gzip");
        assertEquals(200, r.status);
        assertTrue(r.header("Cache-Status").contains("stored"), r.header("Cache-Status"));
    }

    @ParameterizedTest(name = "RFC 9110 13.1.2 and 15.4.5: [{0}] on a fresh hit -> 304 with the listed fields, no body")
    @ValueSource(strings = {
            "If-None-Match: \"v1\"",
            "If-None-Match: W/\"v1\"",
            "If-None-Match: \"x\", \"v1\"",
            "If-None-Match: *",
            "If-Modified-Since: " + LM,
            "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT",
            "If-Modified-Since: Sun Nov  6 08:49:37 1994",
            "If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT"})
    void notModifiedFromAHit(String condition) throws Exception {
        try (Fixture f = fixture(); TestClient c = f.client()) {
            store(f, TARGET);
            TestClient.Response r = send(c, "GET", TARGET, condition, "Accept-Encoding: gzip");
            assertEquals(304, r.status, r.toString());
            assertEquals(0, r.bodyLength);
            // 15.4.5: MUST send these when a 200 would have them
            assertEquals("\"v1\"", r.header("ETag"));
            assertNotNull(r.header("Date"));
            assertEquals("Accept-Encoding", r.header("Vary"));
            assertEquals("max-age=60", r.header("Cache-Control"));
            assertEquals("/c", r.header("Content-Location"));
            assertNotNull(r.header("Expires"));
            assertNotNull(r.header("Age"));
            assertTrue(r.header("Cache-Status").startsWith("sluice; hit"), r.header("Cache-Status"));
            // SHOULD NOT send other representation metadata; no body, so no Content-Length of one
            assertNull(r.header("Content-Length"));
            assertNull(r.header("Content-Type"));
            assertNull(r.header("Content-Language"));
            assertNull(r.header("Last-Modified"), "an ETag is there to guide the update");
            // the connection is in step: the next response on it is read whole
            TestClient.Response after = send(c, "GET", TARGET, "Accept-Encoding: gzip");
            assertEquals(200, after.status);
            assertEquals(4096, after.bodyLength);
            assertEquals(1, f.upstreamRequests(), "answered from the cache");
        }
    }

    @ParameterizedTest(name = "RFC 9110 13.1.2, 13.1.3, 13.2.2: [{0}] -> the whole 200 from the cache")
    @ValueSource(strings = {
            "If-None-Match: \"v2\"",
            "If-None-Match: \"V1\"",
            // malformed entity tags: the field is treated as absent
            "If-None-Match: v1",
            "If-None-Match: \"v1",
            "If-None-Match: w/\"v1\"",
            // 13.1.3: modified since; not a date; a list; later than the cache's clock
            "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT",
            "If-Modified-Since: garbage",
            "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
            "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
            "If-Modified-Since: Mon, 06 Nov 1994 08:49:37 GMT"})
    void conditionThatHoldsGetsTheWholeBody(String condition) throws Exception {
        try (Fixture f = fixture()) {
            store(f, TARGET);
            TestClient.Response r = get(f, TARGET, condition, "Accept-Encoding: gzip");
            assertEquals(200, r.status, r.toString());
            assertEquals(4096, r.bodyLength);
            assertTrue(r.header("Cache-Status").startsWith("sluice; hit"), r.header("Cache-Status"));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 13.2.2 step 3 before 4: If-None-Match that does not match wins over a matching If-Modified-Since")
    void ifNoneMatchTakesPrecedenceOverIfModifiedSince() throws Exception {
        try (Fixture f = fixture()) {
            store(f, TARGET);
            TestClient.Response r = get(f, TARGET, "If-None-Match: \"v2\"", "If-Modified-Since: " + LM,
                    "Accept-Encoding: gzip");
            assertEquals(200, r.status);
            assertEquals(4096, r.bodyLength);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 13.1.2: HEAD with a matching If-None-Match -> 304")
    void headIsNotModifiedToo() throws Exception {
        try (Fixture f = fixture(); TestClient c = f.client()) {
            store(f, TARGET);
            TestClient.Response r = send(c, "HEAD", TARGET, "If-None-Match: \"v1\"", "Accept-Encoding: gzip");
            assertEquals(304, r.status);
            assertEquals(200, send(c, "GET", TARGET, "Accept-Encoding: gzip").status);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9111 4.3.2 MUST NOT evaluate without a stored response: If-None-Match: * on a miss goes to the origin")
    void ifNoneMatchStarOnAMissGoesUpstream() throws Exception {
        try (Fixture f = fixture()) {
            TestClient.Response r = get(f, TARGET, "If-None-Match: *", "Accept-Encoding: gzip");
            // the origin's answer (it has the resource, so its 304), never one made up from nothing
            assertEquals("sluice; fwd=bypass; fwd-status=" + r.status + "; detail=conditional", r.header("Cache-Status"));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest(name = "RFC 9111 4.3.2: [{0}] is not applicable to a cache: the origin answers")
    @CsvSource(delimiter = '|', value = {
            "If-Match: \"v1\"                                  | 200",
            "If-Match: \"v2\"                                  | 200",
            "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT | 200"})
    void ifMatchAndIfUnmodifiedSinceGoToTheOrigin(String condition, int status) throws Exception {
        try (Fixture f = fixture()) {
            store(f, TARGET);
            TestClient.Response r = get(f, TARGET, condition, "Accept-Encoding: gzip");
            assertEquals(status, r.status); // the loadtest origin does not evaluate these
            assertEquals("sluice; fwd=bypass; fwd-status=200; detail=conditional", r.header("Cache-Status"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9111 4.3.2 SHOULD: without Last-Modified, If-Modified-Since is compared with the stored Date")
    void ifModifiedSinceWithoutLastModifiedUsesDate() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/d.bin?size=1k&cc=max-age%3D60";
            TestClient.Response first = get(f, target);
            String date = first.header("Date");
            // the origin's Date is the real time, which may have moved a second past this test's clock: a date later
            // than the cache's clock is ignored (13.1.3), so the clock catches up first
            clock.set(Math.max(clock.get(), System.currentTimeMillis() / 1000 + 1));
            assertEquals(304, get(f, target, "If-Modified-Since: " + date).status);
            assertEquals(200, get(f, target, "If-Modified-Since: " + LM).status);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 13.2.1 MUST ignore preconditions when the response would not be 2xx: a stored 404 is sent")
    void preconditionsOnAStored404AreIgnored() throws Exception {
        try (Fixture f = fixture()) {
            String target = "/objects/nf.bin?size=100&status=404&cc=max-age%3D60&etag=v1";
            TestClient.Response first = get(f, target);
            assertEquals(404, first.status);
            TestClient.Response r = get(f, target, "If-None-Match: \"v1\"");
            assertEquals(404, r.status);
            assertTrue(r.header("Cache-Status").startsWith("sluice; hit"), r.header("Cache-Status"));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9111 4.3.2: a stored response that must be revalidated does not answer a conditional: the origin does")
    void staleStoredResponseSendsTheConditionalUpstream() throws Exception {
        try (Fixture f = fixture()) {
            store(f, TARGET);
            clock.addAndGet(120);
            TestClient.Response r = get(f, TARGET, "If-None-Match: \"v1\"", "Accept-Encoding: gzip");
            assertEquals(304, r.status, "the origin's 304");
            assertTrue(r.header("Cache-Status").contains("fwd="), r.header("Cache-Status"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 13.2.2 step 5: a conditional that holds, then Range -> 206 from the cache")
    void conditionThenRange() throws Exception {
        try (Fixture f = fixture(); TestClient c = f.client()) {
            store(f, TARGET);
            c.send("GET " + TARGET + " HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"v2\"\r\n"
                    + "Range: bytes=100-199\r\n\r\n");
            TestClient.Response r = c.read(false, CacheTest.path(TARGET), 100);
            assertEquals(206, r.status, r.toString());
            assertEquals(-1, r.firstMismatch);
            assertEquals(100, r.bodyLength);
            assertEquals("bytes 100-199/4096", r.header("Content-Range"));
            assertEquals(1, f.upstreamRequests());
        }
    }
}
