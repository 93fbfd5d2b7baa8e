package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Payload;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** HTTP/1.1 proxying end to end: real origin, real Sluice, real sockets on 127.0.0.1. */
class ProxyHttpTest {
    static Fixture f;

    @BeforeAll
    static void start() throws Exception {
        f = new Fixture(Fixture.simple(""), "o1");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static String get(String target) {
        return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 4095, 65536, 1048577})
    void get_contentLengthBody_isByteExact(long size) throws IOException {
        try (TestClient c = f.client()) {
            String path = "/obj/cl-" + size;
            TestClient.Response r = c.send(get(path + "?size=" + size)).read(false, path, 0);
            assertEquals(200, r.status, r.toString());
            assertEquals(String.valueOf(size), r.header("Content-Length"));
            assertEquals(size, r.bodyLength);
            assertEquals(-1, r.firstMismatch, "wrong byte at offset " + r.firstMismatch);
            assertFalse(r.truncated);
        }
    }

    @Test
    void get_chunkedResponse_isForwardedChunkedAndByteExact() throws IOException {
        try (TestClient c = f.client()) {
            long size = 300_001;
            TestClient.Response r = c.send(get("/obj/chunky?size=" + size + "&chunked=1")).read(false, "/obj/chunky", 0);
            assertEquals(200, r.status);
            assertEquals("chunked", r.header("Transfer-Encoding"));
            assertNull(r.header("Content-Length"));
            assertEquals(size, r.bodyLength);
            assertEquals(-1, r.firstMismatch);
        }
    }

    @Test
    void get_chunkedResponseToHttp10Client_isDechunkedAndClosed() throws IOException {
        try (TestClient c = f.client()) {
            long size = 100_000;
            c.send("GET /obj/old?size=" + size + "&chunked=1 HTTP/1.0\r\nHost: test\r\n\r\n");
            TestClient.Response r = c.read(false, "/obj/old", 0);
            assertEquals(200, r.status);
            assertNull(r.header("Transfer-Encoding"));
            assertEquals(size, r.bodyLength);
            assertEquals(-1, r.firstMismatch);
        }
    }

    @Test
    void head_hasHeadersButNoBody_andConnectionStaysUsable() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send("HEAD /obj/h?size=5000 HTTP/1.1\r\nHost: test\r\n\r\n").read(true, null, 0);
            assertEquals(200, r.status);
            assertEquals("5000", r.header("Content-Length"));
            TestClient.Response next = c.send(get("/obj/h2?size=10")).read(false, "/obj/h2", 0);
            assertEquals(10, next.bodyLength, "a HEAD body would have shifted this response");
            assertEquals(-1, next.firstMismatch);
        }
    }

    @Test
    void noContent_hasNoBody_andConnectionStaysUsable() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send(get("/obj/nc?status=204&size=0")).read();
            assertEquals(204, r.status, r.toString());
            assertEquals(0, r.bodyLength);
            TestClient.Response next = c.send(get("/obj/nc2?size=77")).read(false, "/obj/nc2", 0);
            assertEquals(77, next.bodyLength);
            assertEquals(-1, next.firstMismatch);
        }
    }

    @Test
    void notModified_hasNoBody() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send("GET /obj/e?size=100&etag=v1 HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"v1\"\r\n\r\n").read();
            assertEquals(304, r.status);
            assertEquals(0, r.bodyLength);
            assertEquals(200, c.send(get("/obj/e?size=100&etag=v1")).read().status);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 4095, 65536, 1048577, 8 << 20})
    void put_contentLengthBody_reachesOriginIntact(long size) throws IOException {
        try (TestClient c = f.client()) {
            String path = "/up/cl-" + size;
            c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + size + "\r\n\r\n");
            c.sendPayload(path, 0, size);
            TestClient.Response r = c.read();
            assertEquals(201, r.status, r.toString());
            assertEquals(String.valueOf(size), r.header("X-Received-Bytes"));
            assertEquals("ok", r.header("X-Body-Verified"));
        }
    }

    @Test
    void put_chunkedBody_reachesOriginIntact() throws IOException {
        String path = "/up/chunked";
        long size = 3 * 65536 + 17;
        try (TestClient c = f.client()) {
            c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
            long sent = 0;
            int[] chunks = {1, 4096, 65536, 100_000};
            int k = 0;
            while (sent < size) {
                int n = (int) Math.min(chunks[k++ % chunks.length], size - sent);
                c.send(Integer.toHexString(n) + ";ext=1\r\n").sendPayload(path, sent, n).send("\r\n");
                sent += n;
            }
            c.send("0\r\nX-Trailer: yes\r\n\r\n");
            TestClient.Response r = c.read();
            assertEquals(201, r.status, r.toString());
            assertEquals("ok", r.header("X-Body-Verified"));
            assertEquals(String.valueOf(size), r.header("X-Received-Bytes"));
        }
    }

    @Test
    void put_expectContinue_relaysInterimResponseThenBody() throws IOException {
        String path = "/up/expect";
        long size = 200_000;
        try (TestClient c = f.client()) {
            c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " + size + "\r\n\r\n");
            TestClient.Response interim = c.readHeadOnly();
            assertEquals(100, interim.status, "the client must see 100 Continue before sending the body");
            c.sendPayload(path, 0, size);
            TestClient.Response r = c.read();
            assertEquals(201, r.status);
            assertEquals("ok", r.header("X-Body-Verified"));
        }
    }

    @Test
    void keepAlive_manyRequests_reuseOneUpstreamConnection() throws Exception {
        try (Fixture own = new Fixture(Fixture.simple("sluice.event-loops = 1"), "ka"); TestClient c = own.client()) {
            for (int i = 0; i < 10; i++) {
                TestClient.Response r = c.send(get("/obj/ka" + i + "?size=" + (i * 1000))).read(false, "/obj/ka" + i, 0);
                assertEquals(200, r.status);
                assertEquals(-1, r.firstMismatch);
            }
            assertEquals(1, own.origin(0).connectionsAccepted(), "keep-alive pool should reuse the upstream connection");
            assertEquals(10, own.origin(0).requests());
        }
    }

    @Test
    void pipelinedRequests_areAnsweredInOrder() throws IOException {
        try (TestClient c = f.client()) {
            StringBuilder all = new StringBuilder();
            for (int i = 0; i < 5; i++) {
                all.append(get("/obj/pipe" + i + "?size=" + (70_000 - i * 9000)));
            }
            c.send(all.toString());
            for (int i = 0; i < 5; i++) {
                TestClient.Response r = c.read(false, "/obj/pipe" + i, 0);
                assertEquals(200, r.status);
                assertEquals(70_000 - i * 9000, r.bodyLength);
                assertEquals(-1, r.firstMismatch, "response " + i + " out of order or corrupt");
            }
        }
    }

    @Test
    void hopByHopHeaders_areRemoved_andForwardingHeadersAdded() throws IOException {
        try (TestClient c = f.client()) {
            c.send("GET /echo?echo=1 HTTP/1.1\r\nHost: files.example\r\nConnection: keep-alive, X-Secret\r\n"
                    + "X-Secret: drop-me\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: websocket\r\n"
                    + "Proxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 10.1.1.1\r\n"
                    + "Via: 1.0 edge\r\nX-Keep: yes\r\n\r\n");
            TestClient.Response r = c.read();
            assertEquals(200, r.status);
            String seen = r.bodyText().toLowerCase(java.util.Locale.ROOT);
            for (String gone : new String[] {"x-secret", "keep-alive", "\nte:", "trailer", "upgrade", "proxy-", "connection"}) {
                assertFalse(seen.contains(gone), "origin saw hop-by-hop '" + gone + "':\n" + seen);
            }
            assertTrue(seen.contains("x-keep: yes"), seen);
            assertTrue(seen.contains("x-forwarded-for: 10.1.1.1, 127.0.0.1"), seen);
            assertTrue(seen.contains("x-forwarded-proto: http"), seen);
            assertTrue(seen.contains("x-forwarded-host: files.example"), seen);
            assertTrue(seen.contains("host: files.example"), seen);
            assertTrue(seen.contains("via: 1.0 edge, 1.1 sluice"), seen);
            assertTrue(r.header("Via").endsWith("1.1 sluice"), r.toString());
        }
    }

    @Test
    void responseHopByHopHeaders_areRemoved() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send(get("/obj/hh?size=3&hdr=Keep-Alive:timeout%3D9&hdr=Upgrade:h2c&hdr=X-Fine:1")).read();
            assertEquals(200, r.status);
            assertNull(r.header("Keep-Alive"));
            assertNull(r.header("Upgrade"));
            assertEquals("1", r.header("X-Fine"));
        }
    }

    @Test
    void routing_byHostPathAndHeader_picksTheRightUpstream() throws Exception {
        String conf = """
                sluice {
                  event-loops = 1
                  listeners = [ { name = http, address = "127.0.0.1:0" } ]
                  upstreams {
                    a { servers = ["127.0.0.1:%1$d"] }
                    b { servers = ["127.0.0.1:%2$d"] }
                    c { servers = ["127.0.0.1:%3$d"] }
                    d { servers = ["127.0.0.1:%4$d"] }
                  }
                  routes = [
                    { name = canary, host = "media.example", header { name = X-Canary, value = "1" }, upstream = c }
                    { name = media, host = "media.example", upstream = a }
                    { name = wild, host = "*.dl.example", path-prefix = "/files/", upstream = b }
                    { name = api, path-prefix = "/api/", upstream = d }
                  ]
                  admin.enabled = false
                  access-log.enabled = false
                }
                """;
        try (Fixture rf = new Fixture(conf, "A", "B", "C", "D"); TestClient c = rf.client()) {
            assertEquals("A", origin(c, "media.example:8080", "/x", ""));
            assertEquals("C", origin(c, "media.example", "/x", "X-Canary: 1\r\n"));
            assertEquals("A", origin(c, "MEDIA.example", "/x", "X-Canary: 2\r\n"));
            assertEquals("B", origin(c, "eu.dl.example", "/files/a", ""));
            assertEquals("B", origin(c, "a.b.dl.example", "/files/a", ""));
            assertEquals("D", origin(c, "dl.example", "/api/v1", ""));
            TestClient.Response miss = c.send("GET /files/a HTTP/1.1\r\nHost: dl.example\r\n\r\n").read();
            assertEquals(404, miss.status, "*.dl.example must not match dl.example itself");
            TestClient.Response miss2 = c.send("GET /other HTTP/1.1\r\nHost: eu.dl.example\r\n\r\n").read();
            assertEquals(404, miss2.status);
            assertEquals("A", origin(c, "media.example", "/after-404", ""), "404 keeps the connection");
        }
    }

    private static String origin(TestClient c, String host, String path, String extra) throws IOException {
        TestClient.Response r = c.send("GET " + path + "?size=1 HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n").read();
        assertEquals(200, r.status, r.toString());
        return r.header("X-Origin");
    }

    /** A loopback port nobody listens on (bound, then closed). */
    private static int deadPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void upstreamDown_gives502() throws Exception {
        int dead = deadPort();
        String conf = Fixture.simple("sluice.upstreams.origin.servers = [\"127.0.0.1:" + dead + "\"]");
        try (Fixture df = new Fixture(conf, "unused"); TestClient c = df.client()) {
            TestClient.Response r = c.send(get("/x")).read();
            assertEquals(502, r.status, r.toString());
            TestClient.Response again = c.send(get("/x")).read();
            assertEquals(502, again.status, "502 keeps the client connection for the next request");
        }
    }

    /** A server that is down costs one warning per 10 s, not one per request (the log is not a flood gate). */
    @Test
    void upstreamDown_manyRequests_warnOnce() throws Exception {
        int dead = deadPort();
        String conf = Fixture.simple("sluice.upstreams.origin.servers = [\"127.0.0.1:" + dead + "\"]");
        try (Logs.Capture logs = new Logs.Capture(); Fixture df = new Fixture(conf, "unused"); TestClient c = df.client()) {
            for (int i = 0; i < 50; i++) {
                assertEquals(502, c.send(get("/x")).read().status);
            }
            long warnings = logs.records.stream().filter(r -> r.getLevel() == java.util.logging.Level.WARNING
                    && String.valueOf(r.getMessage()).startsWith("upstream {0}")).count();
            assertEquals(1, warnings, "connect failures logged");
        }
    }

    @Test
    void upstreamDown_failsOverToTheNextServer() throws Exception {
        int dead = deadPort();
        String conf = Fixture.simple("sluice.upstreams.origin.servers = [\"127.0.0.1:" + dead + "\", \"127.0.0.1:%1$d\"]");
        try (Fixture df = new Fixture(conf, "alive"); TestClient c = df.client()) {
            for (int i = 0; i < 4; i++) {
                TestClient.Response r = c.send(get("/x?size=1")).read();
                assertEquals(200, r.status, r.toString());
                assertEquals("alive", r.header("X-Origin"));
            }
        }
    }

    @Test
    void upstreamSlow_gives504AfterResponseTimeout() throws Exception {
        String conf = Fixture.simple("sluice.timeouts.upstream-response = 300ms");
        try (Fixture sf = new Fixture(conf, "slow"); TestClient c = sf.client()) {
            long t0 = System.nanoTime();
            TestClient.Response r = c.send(get("/x?size=1&delay=3000")).read();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(504, r.status, r.toString());
            assertTrue(ms >= 250 && ms < 2500, "took " + ms + " ms");
        }
    }

    @Test
    void originResetMidBody_clientNeverSeesACompleteResponse() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send(get("/obj/rst?size=1000000&fault=reset@300000")).read(false, "/obj/rst", 0);
            assertEquals(200, r.status);
            assertTrue(r.truncated, "body must be cut short, got " + r.bodyLength);
            assertTrue(r.bodyLength < 1_000_000);
            assertEquals(-1, r.firstMismatch);
            assertTrue(c.closedByServer(2000));
        }
    }

    @Test
    void originShortBody_closesClientConnection() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send(get("/obj/short?size=500000&fault=short@1000")).read(false, "/obj/short", 0);
            assertTrue(r.truncated, "a short body must not look complete");
            assertTrue(c.closedByServer(2000));
        }
    }

    /**
     * Idle pooled upstream connections are closed after the pool's idle timeout by the loop's watchdog, also when
     * no client is connected any more (the sweep used to run only from client connections' own timers).
     */
    @Test
    void pooledUpstreamConnection_closedAfterPoolIdleTimeout_withNoClientConnected() throws Exception {
        try (Fixture f = new Fixture(Fixture.simple("sluice.event-loops = 1\nsluice.upstreams.origin.pool.idle-timeout = 300ms"), "pool")) {
            try (TestClient c = f.client()) {
                assertEquals(200, c.send("GET /p?size=1000 HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/p", 0).status);
            }
            var gauge = io.micrometer.core.instrument.search.Search.in(f.sluice.registry()).name("sluice.upstream.connections").gauge();
            assertNotNull(gauge);
            long t0 = System.nanoTime();
            double open = gauge.value();
            while (open > 0 && System.nanoTime() - t0 < 5_000_000_000L) {
                Thread.sleep(20);
                open = gauge.value();
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(0, open, "the idle pooled connection is still open after " + ms + " ms");
            assertTrue(ms >= 200, "closed after " + ms + " ms, before the pool's idle timeout");
        }
    }

    @Test
    void originStallsMidBody_idleTimeoutClosesClient() throws Exception {
        String conf = Fixture.simple("sluice.timeouts.idle = 400ms");
        try (Fixture sf = new Fixture(conf, "stall"); TestClient c = sf.client()) {
            TestClient.Response r = c.send(get("/obj/stall?size=500000&fault=stall@100000")).read(false, "/obj/stall", 0);
            assertTrue(r.truncated);
            assertEquals(100_000, r.bodyLength);
            assertEquals(-1, r.firstMismatch);
        }
    }

    @Test
    void closeDelimitedResponse_isForwardedAndClosed() throws Exception {
        // an HTTP/1.0-style origin: no Content-Length, the body ends when it closes
        byte[] body = new byte[70_000];
        long seed = Payload.seed("/cd");
        Payload.fill(seed, 0, body, 0, body.length);
        try (ServerSocket raw = new ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofVirtual().start(() -> {
                try (java.net.Socket s = raw.accept()) {
                    s.getInputStream().read(new byte[4096]);
                    s.getOutputStream().write("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    s.getOutputStream().write(body);
                } catch (IOException ignored) {
                    // the test fails on the client side if this did not work
                }
            });
            String conf = Fixture.simple("sluice.upstreams.origin.servers = [\"127.0.0.1:" + raw.getLocalPort() + "\"]");
            try (Fixture cf = new Fixture(conf, "unused"); TestClient c = cf.client()) {
                TestClient.Response r = c.send(get("/cd")).read(false, "/cd", 0);
                assertEquals(200, r.status);
                assertEquals(70_000, r.bodyLength);
                assertEquals(-1, r.firstMismatch);
                assertEquals("close", r.header("Connection"));
                assertTrue(c.closedByServer(2000));
            }
            server.join(5000);
        }
    }

    @Test
    void metricsAndHealth_areServedByAdmin() throws Exception {
        try (TestClient c = f.client()) {
            assertEquals(200, c.send(get("/obj/m?size=123")).read().status);
        }
        InetSocketAddress admin = f.sluice.adminAddress();
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> m = http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + admin.getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, m.statusCode());
        assertTrue(m.body().contains("sluice_requests_total{route=\"main\",status=\"200\"}"), m.body());
        assertTrue(m.body().contains("sluice_body_bytes_total{direction=\"out\""), m.body());
        assertTrue(m.body().contains("sluice_upstream_connects_total{result=\"ok\",upstream=\"origin\"}"), m.body());
        HttpResponse<String> h = http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + admin.getPort() + "/health")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, h.statusCode());
        assertTrue(h.body().contains("\"status\":\"ok\""), h.body());
    }

    @Test
    void accessLog_jsonLinePerRequest_withRouteUpstreamAndReason(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("access.log");
        String conf = Fixture.simple("sluice.access-log { enabled = true, target = \"" + log + "\" }");
        String upstream;
        try (Fixture lf = new Fixture(conf, "logged"); TestClient c = lf.client()) {
            upstream = "127.0.0.1:" + lf.origin(0).port();
            assertEquals(200, c.send(get("/obj/log?size=4096")).read().status);
            assertEquals(501, c.send("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
        }
        String text = Files.readString(log, StandardCharsets.UTF_8);
        String[] lines = text.strip().split("\n");
        assertEquals(2, lines.length, text);
        assertTrue(lines[0].contains("\"route\":\"main\"") && lines[0].contains("\"upstream\":\"" + upstream + "\"")
                && lines[0].contains("\"status\":200") && lines[0].contains("\"method\":\"GET\""), lines[0]);
        assertTrue(lines[0].matches(".*\"bytes_out\":(\\d{4,}).*"), lines[0]);
        assertTrue(lines[1].contains("\"status\":501") && lines[1].contains("\"reason\":\"method BREW not implemented\""), lines[1]);
    }

    @Test
    void payloadHelper_detectsCorruption_soTheseTestsCanFail() {
        byte[] b = new byte[1000];
        long seed = Payload.seed("/obj/x");
        Payload.fill(seed, 0, b, 0, b.length);
        assertEquals(-1, Payload.firstMismatch(seed, 0, b, 0, b.length));
        b[777] ^= 1;
        assertEquals(777, Payload.firstMismatch(seed, 0, b, 0, b.length));
        assertNotNull(f.sluice.transport());
    }
}
