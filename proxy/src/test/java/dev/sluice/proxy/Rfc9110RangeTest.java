package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Payload;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RFC 9110 14 (Range requests) answered from the cache, through real sockets with the loadtest origin: every body
 * byte is checked against the payload at its offset, and the origin's request count shows what reached it.
 */
class Rfc9110RangeTest {
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture(String extra) throws Exception {
        return new Fixture(clock::get, Fixture.simple(CacheTest.CACHED + extra), "o1");
    }

    /** GET with headers; a 206 with one range is verified against the payload from its first byte. */
    static TestClient.Response get(TestClient c, String target, String... headers) throws Exception {
        StringBuilder b = new StringBuilder("GET " + target + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        c.send(b.append("\r\n").toString());
        TestClient.Response head = c.readHeadOnly();
        long offset = 0;
        String cr = head.header("Content-Range");
        if (head.status == 206 && cr != null) {
            offset = Long.parseLong(cr.substring("bytes ".length(), cr.indexOf('-')));
        }
        boolean multipart = head.header("Content-Type") != null && head.header("Content-Type").startsWith("multipart/");
        return readRest(c, head, multipart ? null : CacheTest.path(target), offset);
    }

    /** The body after a head read alone (the same checks as {@link TestClient#read}). */
    private static TestClient.Response readRest(TestClient c, TestClient.Response head, String verifyPath, long offset)
            throws Exception {
        long length = head.header("Content-Length") == null ? 0 : Long.parseLong(head.header("Content-Length"));
        byte[] body = c.input().readNBytes((int) length);
        assertEquals(length, body.length, "truncated: " + head);
        head.body = body;
        head.bodyLength = body.length;
        if (verifyPath != null && body.length > 0) {
            long m = Payload.firstMismatch(Payload.seed(verifyPath), offset, body, 0, body.length);
            assertEquals(-1, m, () -> "wrong byte at " + m + " of " + head);
        }
        return head;
    }

    static TestClient.Response get(Fixture f, String target, String... headers) throws Exception {
        try (TestClient c = f.client()) {
            return get(c, target, headers);
        }
    }

    private static void stored(Fixture f, String target) throws Exception {
        TestClient.Response r = get(f, target);
        assertEquals(200, r.status);
        assertTrue(r.header("Cache-Status").contains("stored"), r.header("Cache-Status"));
    }

    @ParameterizedTest(name = "RFC 9110 14.1.2 and 15.3.7: {0} of 2048 bytes -> 206 with Content-Range {1}")
    @CsvSource({"bytes=0-99, 0-99", "bytes=100-, 100-2047", "bytes=-100, 1948-2047", "bytes=2047-2047, 2047-2047",
            "bytes=-5000, 0-2047"})
    void singleRangeFromAHit(String range, String expected) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/r.bin?size=2k&cc=max-age%3D60&etag=e1";
            stored(f, target);
            TestClient.Response r = get(f, target, "Range: " + range);
            assertEquals(206, r.status, r.toString());
            assertEquals("bytes " + expected + "/2048", r.header("Content-Range"));
            String[] se = expected.split("-");
            assertEquals(Long.parseLong(se[1]) - Long.parseLong(se[0]) + 1, r.bodyLength);
            assertEquals(String.valueOf(r.bodyLength), r.header("Content-Length"));
            assertEquals("\"e1\"", r.header("ETag"), "15.3.7: the fields a 200 would have");
            assertNotNull(r.header("Cache-Control"));
            assertTrue(r.header("Cache-Status").startsWith("sluice; hit"), r.header("Cache-Status"));
            assertEquals(1, f.upstreamRequests(), "answered from the cache: the origin saw only the first request");
        }
    }

    @ParameterizedTest(name = "RFC 9110 14.6 and 15.3.7.2: several ranges -> multipart/byteranges (cache.send = {0})")
    @ValueSource(strings = {"write", "splice", "sendfile", "send-zc"})
    void severalRangesAreMultipart(String send) throws Exception {
        try (Fixture f = fixture("sluice.cache.send = " + send + "\n"); TestClient c = f.client()) {
            String target = "/objects/mp.bin?size=2m&cc=max-age%3D60";
            stored(f, target);
            TestClient.Response r = get(c, target, "Range: bytes=1000000-1000099, 0-9, -5");
            assertEquals(206, r.status, r.toString());
            assertNull(r.header("Content-Range"), "15.3.7.2: MUST NOT in the header section of a multipart response");
            List<long[]> parts = verifyMultipart(r, "/objects/mp.bin", 2 << 20, "application/octet-stream");
            // 15.3.7.2: the parts in the request's order
            assertEquals(List.of("1000000-1000099", "0-9", "2097147-2097151"),
                    parts.stream().map(p -> p[0] + "-" + p[1]).toList());
            // the connection is in step afterwards
            assertEquals(200, get(c, target).status);
            assertEquals(1, f.upstreamRequests());
        }
    }

    /**
     * Parses a multipart/byteranges body, checks each part's headers and bytes against the payload, and returns
     * the parts' first and last positions.
     */
    static List<long[]> verifyMultipart(TestClient.Response r, String path, long length, String partType) {
        String ct = r.header("Content-Type");
        Matcher m = Pattern.compile("multipart/byteranges; boundary=(\\S+)").matcher(ct);
        assertTrue(m.matches(), ct);
        String boundary = m.group(1);
        String body = new String(r.body, StandardCharsets.ISO_8859_1);
        List<long[]> out = new ArrayList<>();
        int at = body.indexOf("--" + boundary + "\r\n");
        assertEquals(0, at, "the body starts with the first delimiter");
        Pattern range = Pattern.compile("Content-Range: bytes (\\d+)-(\\d+)/(\\d+)\r\n");
        while (body.startsWith("--" + boundary + "\r\n", at)) {
            int headEnd = body.indexOf("\r\n\r\n", at);
            String head = body.substring(at, headEnd + 2);
            assertTrue(head.contains("Content-Type: " + partType + "\r\n"), head);
            Matcher rm = range.matcher(head);
            assertTrue(rm.find(), head);
            long first = Long.parseLong(rm.group(1));
            long last = Long.parseLong(rm.group(2));
            assertEquals(length, Long.parseLong(rm.group(3)));
            int start = headEnd + 4;
            int n = (int) (last - first + 1);
            assertEquals(-1, Payload.firstMismatch(Payload.seed(path), first, r.body, start, n), "part " + first);
            out.add(new long[] {first, last});
            at = start + n;
            assertTrue(body.startsWith("\r\n--" + boundary, at), "a delimiter after the part");
            at += 2;
        }
        assertEquals(body.length(), at + ("--" + boundary + "--\r\n").length(), "the close delimiter ends the body");
        assertTrue(body.startsWith("--" + boundary + "--\r\n", at));
        return out;
    }

    @ParameterizedTest(name = "RFC 9110 14.1.1 and 15.5.17: unsatisfiable [{0}] -> 416 with Content-Range bytes */len")
    @ValueSource(strings = {"bytes=2048-", "bytes=5000-6000", "bytes=-0", "bytes=3000-,-0"})
    void unsatisfiableIs416(String range) throws Exception {
        try (Fixture f = fixture(""); TestClient c = f.client()) {
            String target = "/objects/u.bin?size=2k&cc=max-age%3D60";
            stored(f, target);
            TestClient.Response r = get(c, target, "Range: " + range);
            assertEquals(416, r.status, r.toString());
            assertEquals("bytes */2048", r.header("Content-Range"));
            assertEquals("0", r.header("Content-Length"));
            assertEquals(200, get(c, target).status, "the connection is in step afterwards");
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest(name = "RFC 9110 14.1.1 and 14.2: [{0}] is ignored: the whole body, 200")
    @ValueSource(strings = {"bytes=5-1", "items=0-1", "bytes 0-1", "bytes=a-b", "bytes=0-1-2", "bytes = 0-1", "bytes=-"})
    void invalidRangeIsIgnored(String range) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/i.bin?size=2k&cc=max-age%3D60";
            stored(f, target);
            TestClient.Response r = get(f, target, "Range: " + range);
            assertEquals(200, r.status, r.toString());
            assertEquals(2048, r.bodyLength);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest(name = "RFC 9110 5.6.1 and 14.1.2: whitespace and empty list elements [{0}]")
    @ValueSource(strings = {"bytes=0-9 , 20-29", "bytes=0-9,\t20-29", "bytes=0-9,,20-29,", "Bytes=0-9, 20-29"})
    void listWhitespaceIsAccepted(String range) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/w.bin?size=2k&cc=max-age%3D60";
            stored(f, target);
            TestClient.Response r = get(f, target, "Range: " + range);
            assertEquals(206, r.status, r.toString());
            List<long[]> parts = verifyMultipart(r, "/objects/w.bin", 2048, "application/octet-stream");
            assertEquals(2, parts.size());
        }
    }

    @Test
    @DisplayName("RFC 9110 14.2 MAY coalesce: 1,000 overlapping ranges are sent once, never more than the body")
    void aThousandOverlappingRangesNeverAmplify() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/o.bin?size=64k&cc=max-age%3D60";
            stored(f, target);
            StringBuilder b = new StringBuilder("Range: bytes=");
            for (int i = 0; i < 1000; i++) {
                b.append(i == 0 ? "" : ",").append("0-65535");
            }
            TestClient.Response r = get(f, target, b.toString());
            assertEquals(206, r.status, r.toString());
            assertEquals("bytes 0-65535/65536", r.header("Content-Range"));
            assertEquals(65536, r.bodyLength);
        }
    }

    @Test
    @DisplayName("RFC 9110 14.2 MAY ignore many small ranges: more than 16 disjoint ranges -> the whole body, 200")
    void manySmallRangesGetTheWholeBody() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/s.bin?size=64k&cc=max-age%3D60";
            stored(f, target);
            StringBuilder b = new StringBuilder("Range: bytes=");
            for (int i = 0; i < 500; i++) {
                b.append(i == 0 ? "" : ",").append(i * 100).append('-').append(i * 100);
            }
            TestClient.Response r = get(f, target, b.toString());
            assertEquals(200, r.status, r.toString());
            assertEquals(65536, r.bodyLength);
        }
    }

    @ParameterizedTest(name = "RFC 9110 13.1.5: If-Range [{0}] -> {1}")
    @CsvSource(delimiter = '|', value = {
            "\"v1\"                            | 206",
            "\"v2\"                            | 200",
            "W/\"v1\"                          | 200",
            "\"v1                              | 200",
            "Sun, 06 Nov 1994 08:49:37 GMT     | 206",
            "Sunday, 06-Nov-94 08:49:37 GMT    | 206",
            "Sun Nov  6 08:49:37 1994          | 206",
            "Sun, 06 Nov 1994 08:49:38 GMT     | 200",
            "garbage                           | 200"})
    void ifRangeDecidesBetween206And200(String ifRange, int expected) throws Exception {
        try (Fixture f = fixture("")) {
            // Last-Modified is long before the origin's Date: a strong validator for the cache (8.8.2.2)
            String target = "/objects/ir.bin?size=2k&cc=max-age%3D60&etag=v1&lm=784111777";
            stored(f, target);
            TestClient.Response r = get(f, target, "Range: bytes=10-19", "If-Range: " + ifRange);
            assertEquals(expected, r.status, r.toString());
            assertEquals(expected == 206 ? 10 : 2048, r.bodyLength);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 14.2 MUST ignore Range for methods other than GET: HEAD gets the 200 head")
    void headIgnoresRange() throws Exception {
        try (Fixture f = fixture(""); TestClient c = f.client()) {
            String target = "/objects/h.bin?size=2k&cc=max-age%3D60";
            stored(f, target);
            c.send("HEAD " + target + " HTTP/1.1\r\nHost: test\r\nRange: bytes=0-9\r\n\r\n");
            TestClient.Response r = c.read(true, null, 0);
            assertEquals(200, r.status);
            assertEquals("2048", r.header("Content-Length"));
            assertNull(r.header("Content-Range"));
            assertEquals(200, get(c, target).status, "the connection is in step afterwards");
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest(name = "RFC 9110 14.2: a Range miss on {0} bytes fetches the whole object once, answers 206 from it")
    @ValueSource(strings = {"1k", "3m"})
    void rangeMissFetchesTheWholeObject(String size) throws Exception {
        try (Fixture f = fixture(""); TestClient c = f.client()) {
            String target = "/objects/rm-" + size + ".bin?size=" + size + "&cc=max-age%3D60";
            long length = size.equals("1k") ? 1024 : 3 << 20;
            // the last bytes: the answer waits for the fill to reach them
            TestClient.Response miss = get(c, target, "Range: bytes=-100");
            assertEquals(206, miss.status, miss.toString());
            assertEquals("bytes " + (length - 100) + "-" + (length - 1) + "/" + length, miss.header("Content-Range"));
            assertTrue(miss.header("Cache-Status").contains("fwd-status=200; stored"), miss.header("Cache-Status"));
            TestClient.Response hit = get(c, target, "Range: bytes=0-99,200-299");
            assertEquals(206, hit.status);
            verifyMultipart(hit, "/objects/rm-" + size + ".bin", length, "application/octet-stream");
            TestClient.Response whole = get(c, target);
            assertEquals(length, whole.bodyLength);
            assertTrue(whole.header("Cache-Status").startsWith("sluice; hit"));
            assertEquals(1, f.upstreamRequests(), "the origin was asked once, without Range");
        }
    }

    @Test
    @DisplayName("RFC 9110 14.2: a Range miss stores the whole object, though its client leaves once it has its range")
    void aRangeMissGoesOnToTheEnd_overFillOnAbortMax() throws Exception {
        try (Fixture f = fixture("sluice.cache.fill-on-abort-max = 1MiB\n")) {
            String target = "/objects/rm-big.bin?size=16m&cc=max-age%3D60&rate=32m";
            try (TestClient c = f.client()) {
                TestClient.Response first = get(c, target, "Range: bytes=0-99");
                assertEquals(206, first.status, first.toString());
            } // gone long before the last of the 16 MiB arrives (the origin sends 32 MiB/s)
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (CacheFillTest.metric(f, "sluice_cache_fills_total{outcome=\"completed\"}") < 1
                    && CacheFillTest.metric(f, "sluice_cache_fills_total{outcome=\"aborted\"}") < 1
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            TestClient.Response whole = get(f, target);
            assertEquals(16 << 20, whole.bodyLength);
            assertTrue(whole.header("Cache-Status").startsWith("sluice; hit"), whole.header("Cache-Status"));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9111 4.3 with RFC 9110 14: a Range request for a stale response is validated and answered its range")
    void aRangeRequestForAStaleResponse_isValidated_andAnsweredItsRangeFromTheStoredBody() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/rs.bin?size=100k&cc=max-age%3D60&etag=v1";
            stored(f, target);
            clock.addAndGet(120);
            TestClient.Response r = get(f, target, "Range: bytes=1000-1999");
            assertEquals(206, r.status, r.toString());
            assertEquals("bytes 1000-1999/102400", r.header("Content-Range"));
            assertTrue(r.header("Cache-Status").startsWith("sluice; fwd=stale; fwd-status=304"), r.header("Cache-Status"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    @DisplayName("RFC 9110 14.2: a Range miss on an object too large to store asks the origin for the range, not the whole")
    void rangeMissOnATooLargeObject_isPassedThroughAsARangeRequest() throws Exception {
        try (Fixture f = fixture("sluice.cache.max-object-size = 100KiB\n")) {
            String target = "/objects/big.bin?size=200k&cc=max-age%3D60";
            TestClient.Response r = get(f, target, "Range: bytes=1000-1009");
            assertEquals(206, r.status, r.toString());
            assertEquals("bytes 1000-1009/204800", r.header("Content-Range"));
            assertEquals(10, r.bodyLength);
            assertTrue(r.header("Cache-Status").matches("sluice; fwd=bypass; fwd-status=206; detail=too-large"),
                    r.header("Cache-Status"));
            assertEquals(2, f.upstreamRequests(), "the whole object (dropped unread at its head), then the range");
            TestClient.Response again = get(f, target, "Range: bytes=0-9");
            assertEquals(206, again.status);
            assertEquals(3, f.upstreamRequests(), "known not storable now (hit-for-pass): the range goes straight on");
        }
    }

    @Test
    @DisplayName("RFC 9111 3.3: a 206 from the origin is never stored as the whole object")
    void a206FromTheOriginIsNotStored() throws Exception {
        // the key keeps only size=: the private response makes the key hit-for-pass, so the next Range request
        // goes upstream with its Range and the origin answers 206
        String routes = """
                sluice.routes = [ { name = objects, path-prefix = "/objects/", upstream = origin,
                                    cache { enabled = true, key.query = [size] } } ]
                """;
        try (Fixture f = fixture(routes)) {
            TestClient.Response first = get(f, "/objects/p.bin?size=2k&cc=private");
            assertTrue(first.header("Cache-Status").contains("detail=private"), first.header("Cache-Status"));
            TestClient.Response partial = get(f, "/objects/p.bin?size=2k&cc=max-age%3D60", "Range: bytes=0-9");
            assertEquals(206, partial.status, partial.toString());
            assertEquals(10, partial.bodyLength);
            assertTrue(partial.header("Cache-Status").contains("fwd-status=206"), partial.header("Cache-Status"));
            assertFalse(partial.header("Cache-Status").contains("stored"), partial.header("Cache-Status"));
            assertTrue(partial.header("Cache-Status").contains("detail=partial-content"), partial.header("Cache-Status"));
            assertEquals(2, f.upstreamRequests());
        }
    }
}
