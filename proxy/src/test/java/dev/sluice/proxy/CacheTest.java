package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The memory cache through real sockets: the loadtest origin (whose bytes derive from the path, so every body is
 * verified) behind a Sluice whose /objects/ route caches, with the clock the cache judges freshness by in the test's
 * hand.
 */
class CacheTest {
    static final String CACHED = """
            sluice.routes = [ { name = objects, path-prefix = "/objects/", upstream = origin, cache.enabled = true },
                              { name = main, upstream = origin } ]
            sluice.cache.memory = 64MiB
            """;

    /** Starts at the real time: the origin's Date says when it answered, and its apparent age counts. */
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture(String extra) throws Exception {
        return new Fixture(clock::get, Fixture.simple(CACHED + extra), "o1");
    }

    static TestClient.Response get(Fixture f, String target, String... headers) throws Exception {
        try (TestClient c = f.client()) {
            return get(c, target, headers);
        }
    }

    static TestClient.Response get(TestClient c, String target, String... headers) throws Exception {
        StringBuilder b = new StringBuilder("GET " + target + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        c.send(b.append("\r\n").toString());
        TestClient.Response r = c.read(false, path(target), 0);
        assertEquals(-1, r.firstMismatch, () -> "wrong byte in " + target + ": " + r);
        assertFalse(r.truncated, () -> "truncated: " + r);
        return r;
    }

    static String path(String target) {
        int q = target.indexOf('?');
        return q < 0 ? target : target.substring(0, q);
    }

    static String status(TestClient.Response r) {
        String s = r.header("Cache-Status");
        assertNotNull(s, () -> "no Cache-Status: " + r);
        return s;
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "1", "1k", "64k", "1m", "8m"})
    void secondRequestIsAHitWithAgeAndTheSameBytes(String size) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/a.bin?size=" + size + "&cc=public,max-age%3D3600";
            TestClient.Response miss = get(f, target);
            assertEquals(200, miss.status);
            assertTrue(status(miss).matches("sluice; fwd=uri-miss; fwd-status=200; stored; ttl=(3600|3599)"), status(miss));
            clock.addAndGet(5);
            TestClient.Response hit = get(f, target);
            assertEquals(200, hit.status);
            // the origin's Date has whole seconds: a second may tick between it and the fill
            assertTrue(status(hit).matches("sluice; hit; ttl=(3595|3594)"), status(hit));
            assertTrue(hit.header("Age").matches("5|6"), hit.header("Age"));
            assertEquals(miss.bodyLength, hit.bodyLength);
            assertEquals(miss.header("ETag"), hit.header("ETag"));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    void hitsOnOneKeepAliveConnectionAndHeadFromTheStoredGet() throws Exception {
        try (Fixture f = fixture(""); TestClient c = f.client()) {
            String target = "/objects/k.bin?size=100k&cc=max-age%3D60";
            get(c, target);
            for (int i = 0; i < 5; i++) {
                assertTrue(status(get(c, target)).contains("hit"));
            }
            c.send("HEAD " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
            TestClient.Response head = c.read(true, null, 0);
            assertEquals("102400", head.header("Content-Length"));
            assertTrue(status(head).contains("hit"), status(head));
            assertTrue(status(get(c, target)).contains("hit")); // the connection is still in step
            assertEquals(1, f.upstreamRequests());
        }
    }

    @Test
    void expiresWithTheClockThenRefetches() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/e.bin?size=10k&cc=max-age%3D60";
            get(f, target);
            clock.addAndGet(58);
            assertTrue(status(get(f, target)).matches("sluice; hit; ttl=(2|1)"));
            clock.addAndGet(3);
            TestClient.Response stale = get(f, target);
            assertTrue(status(stale).startsWith("sluice; fwd=stale; fwd-status=200; stored"), status(stale));
            assertEquals(2, f.upstreamRequests());
            // (the refetched copy is stale at once here: the origin's Date is the real time, 61 s behind this clock)
        }
    }

    @Test
    void requestDirectives() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/rd.bin?size=2k&cc=max-age%3D60";
            TestClient.Response noStore = get(f, target, "Cache-Control: no-store");
            assertTrue(status(noStore).endsWith("detail=request-no-store"), status(noStore));
            assertTrue(status(get(f, target)).contains("stored"), "one client's no-store marks nothing pass-through");
            assertTrue(status(get(f, target)).contains("hit"));
            TestClient.Response noCache = get(f, target, "Cache-Control: no-cache");
            assertTrue(status(noCache).startsWith("sluice; fwd=request; fwd-status=200; stored"), status(noCache));
            TestClient.Response tooOld = get(f, target, "Cache-Control: min-fresh=100000");
            assertTrue(status(tooOld).startsWith("sluice; fwd=request"), status(tooOld));
            assertEquals(4, f.upstreamRequests());
            assertTrue(status(get(f, target, "Cache-Control: max-stale=100")).contains("hit"));
            assertEquals(0, f.sluice.registry().scrape().lines()
                    .filter(l -> l.startsWith("sluice_cache_lookups_total{result=\"pass\"")).count());
        }
    }

    /** RFC 9111 4.2.1 and 5.3: freshness that cannot be understood makes the response stale at once. */
    @ParameterizedTest
    @ValueSource(strings = {"cc=max-age%3D-1", "cc=max-age%3D60,max-age%3D120", "hdr=Expires:garbage", "hdr=Expires:0"})
    void invalidFreshnessIsAlreadyExpired(String query) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/x.bin?size=2k&" + query;
            get(f, target);
            TestClient.Response again = get(f, target);
            assertTrue(status(again).startsWith("sluice; fwd=stale"), status(again));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cc=private", "cc=no-store", "cc=max-age%3D60&hdr=Set-Cookie:a%3Db", "cc=max-age%3D60&vary=*"})
    void notStoredSaysWhy(String query) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/n.bin?size=2k&" + query;
            TestClient.Response first = get(f, target);
            assertTrue(status(first).contains("detail="), status(first));
            assertFalse(status(first).contains("stored"), status(first));
            get(f, target);
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void bodiesOverTheLimitOrOfUnknownLengthPassThrough() throws Exception {
        try (Fixture f = fixture("sluice.cache.max-object-size = 100KiB\n")) {
            for (String q : new String[] {"size=101k", "size=10k&chunked=1", "size=10k&nolen=1"}) {
                String target = "/objects/big.bin?cc=max-age%3D60&" + q;
                TestClient.Response r = get(f, target);
                assertTrue(status(r).matches(".*detail=(too-large|unknown-length)"), status(r));
                get(f, target);
            }
            assertTrue(status(get(f, "/objects/big.bin?cc=max-age%3D60&size=100k")).contains("stored"));
            assertEquals(7, f.upstreamRequests());
            assertTrue(f.sluice.registry().scrape().contains(
                    "sluice_cache_lookups_total{result=\"pass\",route=\"objects\"} 3.0"), "hit-for-pass: not collapsed");
        }
    }

    @Test
    void varyKeepsOneVariantPerRequestValue() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/v.bin?size=3k&cc=max-age%3D60&vary=Accept-Encoding";
            get(f, target, "Accept-Encoding: gzip");
            assertTrue(status(get(f, target, "Accept-Encoding: br")).contains("fwd=vary-miss"));
            assertTrue(status(get(f, target, "Accept-Encoding: gzip")).contains("hit"));
            assertTrue(status(get(f, target, "Accept-Encoding: br")).contains("hit"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void varyOnTwentyFields() throws Exception {
        try (Fixture f = fixture("")) {
            StringBuilder vary = new StringBuilder();
            String[] headers = new String[20];
            for (int i = 0; i < 20; i++) {
                vary.append(i == 0 ? "" : ",").append("X-H").append(i);
                headers[i] = "X-H" + i + ": v" + i;
            }
            String target = "/objects/v20.bin?size=3k&cc=max-age%3D60&vary=" + vary;
            get(f, target, headers);
            assertTrue(status(get(f, target, headers)).contains("hit"));
            headers[19] = "X-H19: other";
            assertTrue(status(get(f, target, headers)).contains("fwd=vary-miss"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void aKeyOverEightKiB() throws Exception {
        try (Fixture f = fixture("sluice.limits.max-request-target = 16KiB\n")) {
            String target = "/objects/long.bin?size=1k&cc=max-age%3D60&pad=" + "p".repeat(9000);
            get(f, target);
            assertTrue(status(get(f, target)).contains("hit"));
            assertTrue(status(get(f, target + "q")).contains("uri-miss"));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void unsafeMethodInvalidates() throws Exception {
        try (Fixture f = fixture(""); TestClient c = f.client()) {
            String target = "/objects/inv.bin?size=1k&cc=max-age%3D60";
            get(c, target);
            assertTrue(status(get(c, target)).contains("hit"));
            c.send("POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\n");
            c.sendPayload(path(target), 0, 3);
            TestClient.Response post = c.read();
            assertEquals(201, post.status);
            assertTrue(status(post).contains("fwd=bypass"), status(post));
            assertTrue(status(get(c, target)).contains("uri-miss"));
            assertEquals(3, f.upstreamRequests());
        }
    }

    @Test
    void authorizationIsServedOnlyWhatTheResponseAllows() throws Exception {
        try (Fixture f = fixture("")) {
            String priv = "/objects/auth.bin?size=1k&cc=max-age%3D60";
            get(f, priv, "Authorization: Basic eDp5");
            get(f, priv, "Authorization: Basic eDp5");
            assertEquals(2, f.upstreamRequests(), "not stored without public, s-maxage or must-revalidate");
            String pub = "/objects/pub.bin?size=1k&cc=public,max-age%3D60";
            get(f, pub, "Authorization: Basic eDp5");
            assertTrue(status(get(f, pub, "Authorization: Basic eDp5")).contains("hit"));
            assertEquals(3, f.upstreamRequests());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"write", "send-zc", "splice", "sendfile"})
    void everySendMechanismServesTheSameBytes(String send) throws Exception {
        try (Fixture f = fixture("sluice.cache.send = " + send + "\n"); TestClient c = f.client()) {
            for (String size : new String[] {"1", "1k", "64k", "1m", "5m"}) {
                String target = "/objects/m-" + size + ".bin?size=" + size + "&cc=max-age%3D60";
                get(c, target);
                assertTrue(status(get(c, target)).contains("hit"));
            }
            String metrics = f.sluice.registry().scrape();
            assertTrue(metrics.contains("sluice_cache_sent_bytes_total{mechanism=\"" + send.replace('-', '_') + "\"}"),
                    "bytes counted by mechanism");
        }
    }

    /** Without io_uring: fills receive into the mapping through epoll's or NIO's reads, hits are written. */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void otherTransportsFillAndHitToo(String transport) throws Exception {
        try (Fixture f = fixture("sluice.transport = " + transport + "\nsluice.cache.send = sendfile\n");
             TestClient c = f.client()) {
            assertEquals(transport, f.sluice.transport());
            for (String size : new String[] {"1", "3k", "1m", "5m"}) {
                String target = "/objects/t-" + size + ".bin?size=" + size + "&cc=max-age%3D60";
                assertTrue(status(get(c, target)).contains("stored"));
                assertTrue(status(get(c, target)).contains("hit"));
            }
            assertEquals(4, f.upstreamRequests());
            String metrics = f.sluice.registry().scrape();
            assertTrue(metrics.contains("sluice_splice_fallbacks_total{loop=\"0\",reason=\"unavailable\"}")
                    || metrics.contains("sluice_splice_fallbacks_total{loop=\"1\",reason=\"unavailable\"}"),
                    "sendfile fell back to a write, counted");
        }
    }

    @Test
    void theAccessLogSaysWhatTheCacheDid(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path log = dir.resolve("access.log");
        try (Fixture f = fixture("sluice.access-log { enabled = true, target = \"" + log + "\" }\n")) {
            String target = "/objects/log.bin?size=1k&cc=max-age%3D60";
            get(f, target);
            get(f, target);
            assertTrue(Logs.awaitLine(log, "\"cache\":\"miss\"", 5000).contains("\"route\":\"objects\""));
            assertTrue(Logs.awaitLine(log, "\"cache\":\"hit\"", 5000).contains("\"mechanism\":\"write\""));
        }
    }

    @Test
    void routesWithoutACacheNeitherStoreNorSayAnything() throws Exception {
        try (Fixture f = fixture("")) {
            TestClient.Response r = get(f, "/other/a.bin?size=1k&cc=max-age%3D60");
            assertNull(r.header("Cache-Status"));
            get(f, "/other/a.bin?size=1k&cc=max-age%3D60");
            assertEquals(2, f.upstreamRequests());
        }
    }

    static List<String> lines(String text, String prefix) {
        List<String> out = new ArrayList<>();
        for (String l : text.split("\n")) {
            if (l.startsWith(prefix)) {
                out.add(l);
            }
        }
        return out;
    }
}
