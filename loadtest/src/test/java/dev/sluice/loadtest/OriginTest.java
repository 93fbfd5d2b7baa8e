package dev.sluice.loadtest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(30)
class OriginTest {
    static Origin origin;

    @BeforeAll
    static void start() {
        origin = Origin.builder().name("t1").build();
    }

    @AfterAll
    static void stop() {
        origin.close();
    }

    private static RawHttp.Response get(String target) throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            return c.send(RawHttp.get(target)).read();
        }
    }

    private static void assertPayload(String path, long offset, byte[] body) {
        long m = Payload.firstMismatch(Payload.seed(path), offset, body, 0, body.length);
        assertEquals(-1, m, "first wrong byte of " + path + " at " + m);
    }

    @Test
    void get_stats_countsCompletedRequestsAndBytesButNotItself() throws IOException {
        Origin o = Origin.builder().name("stats").build();
        try (o) {
            RawHttp.Response before;
            try (RawHttp c = new RawHttp(o.port())) {
                before = c.send(RawHttp.get("/x?stats=1")).read();
                assertEquals(200, c.send(RawHttp.get("/a?size=1000")).read().status());
                assertEquals(200, c.send(RawHttp.get("/b?size=24")).read().status());
                RawHttp.Response after = c.send(RawHttp.get("/x?stats=1")).read();
                assertEquals("requests 0\nbytes 0\n", new String(before.body(), StandardCharsets.ISO_8859_1));
                assertEquals("requests 2\nbytes 1024\n", new String(after.body(), StandardCharsets.ISO_8859_1));
                assertEquals("no-store", after.header("Cache-Control"));
            }
            assertEquals(2, o.requests());
            assertEquals(1024, o.bodyBytes());
            assertEquals(2, BenchMain.originRequests("127.0.0.1:" + o.port()));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 4095, 65536, 1024 * 1024 + 1})
    void get_size_servesExactPayloadBytes(int size) throws IOException {
        RawHttp.Response r = get("/obj/a?size=" + size);
        assertEquals(200, r.status());
        assertEquals(String.valueOf(size), r.header("Content-Length"));
        assertEquals(size, r.body().length);
        assertPayload("/obj/a", 0, r.body());
        assertEquals("t1", r.header("X-Origin"));
        assertNotNull(r.header("Date"));
        assertEquals("application/octet-stream", r.header("Content-Type"));
    }

    @Test
    void get_noSize_defaultsTo1024() throws IOException {
        assertEquals(1024, get("/default").body().length);
    }

    @Test
    void get_sizeSuffix_isBinaryMultiple() throws IOException {
        RawHttp.Response r = get("/k?size=3k");
        assertEquals(3072, r.body().length);
        assertPayload("/k", 0, r.body());
    }

    @Test
    void get_samePathOtherQuery_sameBytesDifferentPathOtherBytes() throws IOException {
        byte[] a = get("/same?size=4k").body();
        byte[] b = get("/same?size=4k&cc=no-store").body();
        byte[] c = get("/other?size=4k").body();
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void get_uncachedOrigin_servesSameBytesAsCached() throws IOException {
        try (Origin plain = Origin.builder().cacheBytes(0).build(); RawHttp c = new RawHttp(plain.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/gen?size=200000")).read();
            assertArrayEquals(get("/gen?size=200000").body(), r.body());
            assertPayload("/gen", 0, r.body());
            assertEquals(0, plain.cachedBodyBytes());
        }
        assertTrue(origin.cachedBodyBytes() > 0);
    }

    @Test
    void get_64MiB_streamsExactBytes() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/big?size=64m")).read();
            assertEquals(64 << 20, r.body().length);
            assertPayload("/big", 0, r.body());
        }
    }

    @Test
    void get_hugeBodySlowReader_originHonoursBackpressure() throws Exception {
        try (Origin plain = Origin.builder().cacheBytes(0).build(); RawHttp c = new RawHttp(plain.port())) {
            long before = PlatformDependent.usedDirectMemory();
            c.send(RawHttp.get("/huge?size=4g"));
            c.readHead();
            byte[] first = c.readN(1 << 20);
            assertPayload("/huge", 0, first);
            Thread.sleep(300); // an origin ignoring writability would queue GiBs meanwhile
            long grown = PlatformDependent.usedDirectMemory() - before;
            assertTrue(grown < (48L << 20), "direct memory grew by " + grown);
            assertPayload("/huge", 1 << 20, c.readN(1 << 20));
        }
    }

    @Test
    void head_returnsGetHeadersWithoutBody() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send("HEAD /h?size=5000&etag=x HTTP/1.1\r\nHost: t\r\n\r\n");
            RawHttp.Response h = c.read(true);
            assertEquals(200, h.status());
            assertEquals("5000", h.header("Content-Length"));
            assertEquals("\"x\"", h.header("ETag"));
            // the next response on the connection starts right away: no body bytes followed the HEAD's head
            RawHttp.Response g = c.send(RawHttp.get("/h?size=10")).read();
            assertEquals(200, g.status());
            assertEquals(10, g.body().length);
            assertPayload("/h", 0, g.body());
        }
    }

    @Test
    void range_closedRange_servesSlice() throws IOException {
        RawHttp.Response r = range("/r?size=100000", "bytes=1000-70999");
        assertEquals(206, r.status());
        assertEquals("bytes 1000-70999/100000", r.header("Content-Range"));
        assertEquals(70000, r.body().length);
        assertPayload("/r", 1000, r.body());
    }

    @Test
    void range_openEnded_servesToEnd() throws IOException {
        RawHttp.Response r = range("/r?size=100000", "bytes=99990-");
        assertEquals(206, r.status());
        assertEquals("bytes 99990-99999/100000", r.header("Content-Range"));
        assertPayload("/r", 99990, r.body());
        assertEquals(10, r.body().length);
    }

    @Test
    void range_suffix_servesLastBytes() throws IOException {
        RawHttp.Response r = range("/r?size=100000", "bytes=-7");
        assertEquals(206, r.status());
        assertEquals("bytes 99993-99999/100000", r.header("Content-Range"));
        assertPayload("/r", 99993, r.body());
    }

    @Test
    void range_endBeyondSize_isClamped() throws IOException {
        RawHttp.Response r = range("/r?size=100", "bytes=90-1000");
        assertEquals("bytes 90-99/100", r.header("Content-Range"));
        assertPayload("/r", 90, r.body());
        assertEquals(10, r.body().length);
    }

    @Test
    void range_startBeyondSize_is416() throws IOException {
        RawHttp.Response r = range("/r?size=100", "bytes=100-");
        assertEquals(416, r.status());
        assertEquals("bytes */100", r.header("Content-Range"));
        assertEquals(0, r.body().length);
    }

    @Test
    void range_severalRanges_isIgnored() throws IOException {
        RawHttp.Response r = range("/r?size=100", "bytes=0-1,5-6");
        assertEquals(200, r.status());
        assertEquals(100, r.body().length);
    }

    @Test
    void range_ifRangeOtherEtag_servesWholeBody() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send("GET /r?size=100&etag=v2 HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\nIf-Range: \"v1\"\r\n\r\n");
            assertEquals(200, c.read().status());
            c.send("GET /r?size=100&etag=v2 HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\nIf-Range: \"v2\"\r\n\r\n");
            assertEquals(206, c.read().status());
        }
    }

    private static RawHttp.Response range(String target, String range) throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            return c.send("GET " + target + " HTTP/1.1\r\nHost: t\r\nRange: " + range + "\r\n\r\n").read();
        }
    }

    @Test
    void conditional_ifNoneMatchEqualEtag_is304WithoutBody() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send("GET /c?size=100&etag=abc&cc=max-age%3D60 HTTP/1.1\r\nHost: t\r\nIf-None-Match: W/\"zz\", "
                    + "\"abc\"\r\n\r\n");
            RawHttp.Response r = c.read();
            assertEquals(304, r.status());
            assertEquals("\"abc\"", r.header("ETag"));
            assertEquals("max-age=60", r.header("Cache-Control"));
            assertNull(r.header("Content-Length"));
            // nothing but the head was sent: the next response parses
            assertEquals(200, c.send(RawHttp.get("/c?size=3")).read().status());
        }
    }

    @Test
    void conditional_ifNoneMatchOtherEtag_is200() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send("GET /c?size=100&etag=abc HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"abd\"\r\n\r\n");
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void conditional_ifModifiedSinceNotOlder_is304AndOlder_is200() throws IOException {
        String lm = HttpDates.format(1_700_000_000L);
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send("GET /c?lm=1700000000 HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: " + lm + "\r\n\r\n");
            RawHttp.Response r = c.read();
            assertEquals(304, r.status());
            assertEquals(lm, r.header("Last-Modified"));
            c.send("GET /c?lm=1700000000 HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: "
                    + HttpDates.format(1_699_999_999L) + "\r\n\r\n");
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void headers_queryParameters_becomeResponseHeaders() throws IOException {
        RawHttp.Response r = get("/hd?size=1&cc=public,max-age%3D5&etag=W/%22w%22&lm=Sun,%2006%20Nov%201994%2008:49:37"
                + "%20GMT&vary=Accept-Encoding&hdr=X-A:1&hdr=X-B:%20two&ct=video/mp4");
        assertEquals("public,max-age=5", r.header("Cache-Control"));
        assertEquals("W/\"w\"", r.header("ETag"));
        assertEquals("Sun, 06 Nov 1994 08:49:37 GMT", r.header("Last-Modified"));
        assertEquals("Accept-Encoding", r.header("Vary"));
        assertEquals("1", r.header("X-A"));
        assertEquals("two", r.header("X-B"));
        assertEquals("video/mp4", r.header("Content-Type"));
    }

    @Test
    void status_404_servesPayloadBody() throws IOException {
        RawHttp.Response r = get("/missing?status=404&size=10");
        assertEquals(404, r.status());
        assertPayload("/missing", 0, r.body());
        assertEquals(10, r.body().length);
    }

    @Test
    void status_204_hasNoBody() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/n?status=204")).read();
            assertEquals(204, r.status());
            assertNull(r.header("Content-Length"));
            assertEquals(200, c.send(RawHttp.get("/n?size=1")).read().status());
        }
    }

    @Test
    void chunked_defaultSizes_varyAndDecodeToPayload() throws IOException {
        RawHttp.Response r = get("/ch?size=300000&chunked=1");
        assertEquals("chunked", r.header("Transfer-Encoding"));
        assertNull(r.header("Content-Length"));
        assertEquals(300000, r.body().length);
        assertPayload("/ch", 0, r.body());
        Set<Integer> sizes = new HashSet<>(r.chunkSizes());
        assertTrue(sizes.size() >= 5, "chunk sizes " + r.chunkSizes());
        assertTrue(sizes.contains(1));
    }

    @Test
    void chunked_fixedChunkSize_isUsed() throws IOException {
        RawHttp.Response r = get("/ch?size=1000&chunked=1&chunk=300");
        assertEquals(java.util.List.of(300, 300, 300, 100), r.chunkSizes());
        assertPayload("/ch", 0, r.body());
    }

    @Test
    void chunked_range_servesSliceChunked() throws IOException {
        RawHttp.Response r = range("/ch?size=100000&chunked=1", "bytes=5-99999");
        assertEquals(206, r.status());
        assertEquals(99995, r.body().length);
        assertPayload("/ch", 5, r.body());
    }

    @Test
    void nolen_bodyIsCloseDelimited() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/nl?size=70000&nolen=1")).read();
            assertNull(r.header("Content-Length"));
            assertEquals("close", r.header("Connection"));
            assertEquals(70000, r.body().length);
            assertPayload("/nl", 0, r.body());
        }
    }

    @Test
    void echo_bodyIsRequestHeadAsReceived() throws IOException {
        String req = "GET /e?echo=1 HTTP/1.1\r\nHost: h.example\r\nX-Forwarded-For: 10.0.0.1\r\nX-Odd:  sp \r\n\r\n";
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(req).read();
            assertEquals(200, r.status());
            assertEquals("text/plain", r.header("Content-Type"));
            assertEquals(req, r.text());
        }
    }

    @Test
    void fault_resetAtN_sendsNBytesThenRst() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/f?size=1m&fault=reset@100000"));
            String head = c.readHead();
            assertTrue(head.contains("Content-Length: 1048576"), head);
            RawHttp.Tail t = c.readUntilEnd();
            assertEquals(100000, t.bytes().length);
            assertPayload("/f", 0, t.bytes());
            assertNotNull(t.error(), "expected a reset, got a clean EOF");
            assertTrue(t.error() instanceof SocketException && t.error().getMessage().contains("reset"),
                    String.valueOf(t.error()));
        }
    }

    @Test
    void fault_surplus_sendsAnUnrequestedResponseAfterTheBody() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/f?size=1000&fault=surplus"));
            RawHttp.Response r = c.read();
            assertEquals(1000, r.body().length);
            assertPayload("/f", 0, r.body());
            RawHttp.Response extra = c.read(); // nothing was asked for it
            assertTrue(extra.rawHead().contains("X-Surplus: 1"), extra.rawHead());
            assertEquals("smuggled!", new String(extra.body(), java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    @Test
    void fault_shortAtN_announcesFullLengthSendsNThenFin() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/f?size=100000&fault=short@777"));
            assertTrue(c.readHead().contains("Content-Length: 100000"));
            RawHttp.Tail t = c.readUntilEnd();
            assertNull(t.error());
            assertEquals(777, t.bytes().length);
            assertPayload("/f", 0, t.bytes());
        }
    }

    @Test
    void fault_shortChunked_endsWithoutLastChunk() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/f?size=100000&chunked=1&chunk=1000&fault=short@1500"));
            c.readHead();
            RawHttp.Tail t = c.readUntilEnd();
            assertNull(t.error());
            String s = new String(t.bytes(), StandardCharsets.ISO_8859_1);
            assertTrue(s.startsWith("3e8\r\n"));
            assertEquals(5 + 1000 + 2 + 5 + 500, s.length());
        }
    }

    @Test
    void fault_stallAtN_sendsNThenKeepsConnectionOpen() throws Exception {
        try (Origin o = Origin.builder().build(); RawHttp c = new RawHttp(o.port())) {
            c.send(RawHttp.get("/f?size=100000&fault=stall@3000"));
            c.readHead();
            byte[] b = c.readN(3000);
            assertPayload("/f", 0, b);
            c.socket.setSoTimeout(300);
            assertThrows(SocketTimeoutException.class, c::readByte);
            assertEquals(1, o.openConnections());
        }
    }

    @Test
    void fault_close_closesRightAfterHead() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/f?size=100000&fault=close"));
            assertTrue(c.readHead().startsWith("HTTP/1.1 200"));
            RawHttp.Tail t = c.readUntilEnd();
            assertEquals(0, t.bytes().length);
            assertNull(t.error());
        }
    }

    @Test
    void close_param_sendsConnectionCloseAndCloses() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/x?size=10&close=1")).read();
            assertEquals("close", r.header("Connection"));
            assertEquals(-1, c.readByte());
        }
    }

    @Test
    void keepAlive_severalRequests_oneConnection() throws IOException {
        try (Origin o = Origin.builder().build(); RawHttp c = new RawHttp(o.port())) {
            for (int i = 0; i < 5; i++) {
                RawHttp.Response r = c.send(RawHttp.get("/ka" + i + "?size=" + (i * 1000))).read();
                assertPayload("/ka" + i, 0, r.body());
                assertNull(r.header("Connection"));
            }
            assertEquals(1, o.connectionsAccepted());
            assertEquals(5, o.requests());
            assertEquals(1, o.openConnections());
        }
    }

    @Test
    void http10_withoutKeepAlive_closesAfterResponse() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send("GET /ten?size=5 HTTP/1.0\r\n\r\n").read();
            assertEquals(5, r.body().length);
            assertEquals("close", r.header("Connection"));
            assertEquals(-1, c.readByte());
        }
    }

    @Test
    void pipelining_slowFirstResponse_answersInOrder() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/p1?size=200000&delay=100") + RawHttp.get("/p2?size=3")
                    + "HEAD /p3?size=9 HTTP/1.1\r\nHost: t\r\n\r\n" + RawHttp.get("/p4?size=70000&chunked=1"));
            RawHttp.Response a = c.read();
            assertEquals(200000, a.body().length);
            assertPayload("/p1", 0, a.body());
            assertArrayEquals(get("/p2?size=3").body(), c.read().body());
            assertEquals("9", c.read(true).header("Content-Length"));
            RawHttp.Response d = c.read();
            assertPayload("/p4", 0, d.body());
            assertEquals(70000, d.body().length);
        }
    }

    @Test
    void delay_param_delaysHead() throws IOException {
        long t0 = System.nanoTime();
        get("/d?size=1&delay=150");
        assertTrue(System.nanoTime() - t0 >= 150_000_000L);
    }

    @Test
    void rate_param_limitsBandwidth() throws IOException {
        long t0 = System.nanoTime();
        RawHttp.Response r = get("/rt?size=100k&rate=500k");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertPayload("/rt", 0, r.body());
        assertTrue(ms >= 150 && ms < 2000, "took " + ms + " ms");
    }

    private static String put(String target, byte[] body, String extra) {
        return "PUT " + target + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + body.length + "\r\n" + extra + "\r\n";
    }

    private static byte[] payload(String path, int n) {
        byte[] b = new byte[n];
        Payload.fill(Payload.seed(path), 0, b, 0, n);
        return b;
    }

    @Test
    void put_correctBody_verifiedOk() throws IOException {
        byte[] body = payload("/up", 300_000);
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(put("/up?size=300000", body, "")).send(body);
            RawHttp.Response r = c.read();
            assertEquals(201, r.status());
            assertEquals("300000", r.header("X-Received-Bytes"));
            assertEquals("ok", r.header("X-Body-Verified"));
            assertEquals("t1", r.header("X-Origin"));
        }
    }

    @Test
    void put_flippedByte_reportsMismatchOffset() throws IOException {
        byte[] body = payload("/up", 100_000);
        body[54_321] ^= 0x10;
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(put("/up", body, "")).send(body).read();
            assertEquals("mismatch@54321", r.header("X-Body-Verified"));
            assertEquals("100000", r.header("X-Received-Bytes"));
        }
    }

    @Test
    void put_sizeDiffers_reportsShortOrLong() throws IOException {
        byte[] body = payload("/up", 1000);
        try (RawHttp c = new RawHttp(origin.port())) {
            assertEquals("short", c.send(put("/up?size=1001", body, "")).send(body).read().header("X-Body-Verified"));
            assertEquals("long", c.send(put("/up?size=999", body, "")).send(body).read().header("X-Body-Verified"));
        }
    }

    @Test
    void post_chunkedBody_verifiedOk() throws IOException {
        byte[] body = payload("/upc", 200_000);
        StringBuilder sb = new StringBuilder("POST /upc HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        bo.writeBytes(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
        int off = 0;
        int[] sizes = {1, 70000, 3, 65536};
        for (int i = 0; off < body.length; i++) {
            int n = Math.min(sizes[i % sizes.length], body.length - off);
            bo.writeBytes((Integer.toHexString(n) + ";ext=1\r\n").getBytes(StandardCharsets.ISO_8859_1));
            bo.write(body, off, n);
            bo.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
            off += n;
        }
        bo.writeBytes("0\r\nX-Trailer: 1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(bo.toByteArray()).read();
            assertEquals("ok", r.header("X-Body-Verified"));
            assertEquals("200000", r.header("X-Received-Bytes"));
        }
    }

    @Test
    void put_expect100Continue_sends100BeforeBody() throws IOException {
        byte[] body = payload("/up100", 5000);
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(put("/up100", body, "Expect: 100-continue\r\n"));
            assertEquals("HTTP/1.1 100 Continue\r\n\r\n", c.readHead());
            RawHttp.Response r = c.send(body).read();
            assertEquals(201, r.status());
            assertEquals("ok", r.header("X-Body-Verified"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "GET /x HTTP/1.1\r\n\r\n", // no Host
        "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /x HTTP/1.1\nHost: a\r\n\r\n", // bare LF
        "GET  /x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /x?size=lots HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x?fault=boom HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: a\r\n\r\n",
    })
    void malformed_request_400AndClose(String request) throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            RawHttp.Response r = c.send(request).read();
            assertEquals(400, r.status(), r.rawHead());
            assertEquals("close", r.header("Connection"));
            assertEquals("t1", r.header("X-Origin"));
            assertEquals(-1, c.readByte());
        }
    }

    @Test
    void malformed_afterGoodPipelinedRequest_firstAnsweredThen400() throws IOException {
        try (RawHttp c = new RawHttp(origin.port())) {
            c.send(RawHttp.get("/ok?size=10") + "BROKEN\r\n\r\n");
            assertEquals(200, c.read().status());
            assertEquals(400, c.read().status());
        }
    }

    @Test
    void close_calledTwice_isIdempotentAndFreesPort() throws IOException {
        Origin o = Origin.builder().name("tmp").build();
        int port = o.port();
        o.close();
        o.close();
        assertThrows(IOException.class, () -> new RawHttp(port).close());
    }
}
