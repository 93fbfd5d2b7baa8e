package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every malformed or refused request: the right status, the connection closes, nothing reaches the upstream. */
class BadInputTest {
    static Fixture f;

    @BeforeAll
    static void start() throws Exception {
        f = new Fixture(Fixture.simple("""
                sluice.limits { max-request-target = 1KiB, max-header-size = 4KiB, max-request-body = 1MiB }
                sluice.timeouts.request-head = 500ms
                """), "victim");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    static Stream<Arguments> badRequests() {
        String longTarget = "/" + "a".repeat(2000);
        String bigHeader = "X-Big: " + "b".repeat(5000) + "\r\n";
        return Stream.of(
                Arguments.of("malformed request line", "GET /\r\n\r\n", 400),
                Arguments.of("two spaces in request line", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
                Arguments.of("garbage version", "GET / HTTX/1.1\r\nHost: t\r\n\r\n", 400),
                Arguments.of("HTTP/2.0 on a 1.1 socket", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
                Arguments.of("invalid char in header name", "GET / HTTP/1.1\r\nHost: t\r\nX(a): 1\r\n\r\n", 400),
                Arguments.of("NUL in header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\u0000b\r\n\r\n", 400),
                Arguments.of("bare CR in header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n", 400),
                Arguments.of("space before colon", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello", 400),
                Arguments.of("obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n  continued\r\n\r\n", 400),
                Arguments.of("differing Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
                Arguments.of("differing Content-Length in one field", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!", 400),
                Arguments.of("non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400),
                Arguments.of("CL and TE on 1.1", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                Arguments.of("CL and TE on 1.0", "POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                Arguments.of("CL and TE on 1.9", "POST / HTTP/1.9\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                Arguments.of("TE not ending in chunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
                Arguments.of("TE of commas only", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ,\r\n\r\n", 400),
                Arguments.of("TE identity", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n", 400),
                Arguments.of("TE chunked twice", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                Arguments.of("missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
                Arguments.of("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                // RFC 9112 3.2: the authority of an absolute-form target replaces Host, but two Hosts are still refused
                Arguments.of("absolute-form and two Host headers", "GET http://a/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                Arguments.of("header section over the limit", "GET / HTTP/1.1\r\nHost: t\r\n" + bigHeader + "\r\n", 431),
                Arguments.of("request target over the limit", "GET " + longTarget + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
                Arguments.of("unsupported method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501),
                Arguments.of("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
                Arguments.of("body over the limit", "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
                Arguments.of("relative target", "GET foo HTTP/1.1\r\nHost: t\r\n\r\n", 400),
                Arguments.of("bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400));
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @MethodSource("badRequests")
    void badRequest_getsStatusAndClose_andNothingReachesUpstream(String name, String raw, int status) throws IOException {
        long before = f.upstreamRequests();
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send(raw).read();
            assertEquals(status, r.status, name + ": " + r);
            assertEquals("close", r.header("Connection"), name);
            assertTrue(c.closedByServer(3000), name + ": connection should close after the reply");
        }
        if (!name.equals("bad chunk size")) { // its head was valid and went upstream before the bad chunk
            assertEquals(before, f.upstreamRequests(), name + ": the request must not reach the upstream");
        }
    }

    @Test
    void partialHead_getsRequestTimeout() throws IOException {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send("GET / HTTP/1.1\r\nHost: t\r\n").read();
            assertEquals(408, r.status);
            assertTrue(c.closedByServer(3000));
        }
    }

    @Test
    void silentConnection_isClosedAfterHeadTimeout() throws IOException {
        try (TestClient c = f.client()) {
            assertTrue(c.closedByServer(3000), "a connection that sends nothing must not be kept forever");
        }
    }

    @Test
    void badRequest_afterGoodOnes_onlyThatConnectionCloses() throws IOException {
        try (TestClient good = f.client(); TestClient bad = f.client()) {
            assertEquals(200, good.send("GET /a?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
            assertEquals(400, bad.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n").read().status);
            assertEquals(200, good.send("GET /b?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
        }
    }

    /**
     * An upload refused at its head while the client goes on sending its body: the client can finish writing and
     * read the 413. Closed at once, Sluice's kernel answers the body's next bytes with a reset, the client's writes
     * fail ("Broken pipe") and the response can be erased before it is read (RFC 9112 9.6).
     */
    @Test
    void refusedUpload_clientStillSending_canWriteOnAndReadThe413() throws IOException {
        try (TestClient c = f.client()) {
            c.send("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 8000000\r\n\r\n");
            byte[] chunk = new byte[64 * 1024];
            for (int sent = 0; sent < 8_000_000; sent += chunk.length) {
                c.send(chunk);
            }
            TestClient.Response r = c.read();
            assertEquals(413, r.status, r.toString());
            assertTrue(c.closedByServer(3000), "the connection ends after the refusal");
        }
    }

    /** A refused request followed by more bytes (a pipelined request, the rest of a body): the 400 still arrives. */
    @Test
    void badRequest_thenMoreBytes_theClientStillReadsThe400() throws Exception {
        try (TestClient c = f.client()) {
            c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
            Await.until("the 400 at the client", () -> {
                try {
                    return c.socket.getInputStream().available() > 0; // answered, so closed on Sluice's side
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            for (int i = 0; i < 20; i++) {
                c.send("0\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
                Thread.sleep(5);
            }
            TestClient.Response r = c.read();
            assertEquals(400, r.status, r.toString());
            assertTrue(c.closedByServer(3000));
        }
    }

    /** A client that keeps the connection open after a refusal, sending nothing: Sluice stops lingering and closes. */
    @Test
    void lingeringConnection_closesWhenTheClientGoesQuiet() throws Exception {
        try (TestClient c = f.client()) {
            assertEquals(400, c.send("GET / HTTP/1.1\r\n\r\n").read().status);
            assertTrue(c.closedByServer(1000), "the write side is shut right after the response");
            long quietMillis = ClientConnection.LINGER_QUIET_NANOS / 1_000_000;
            long deadline = System.currentTimeMillis() + quietMillis + 4000;
            while (clientConnections() > 0 && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(0, clientConnections(), "the lingering connection must be closed after " + quietMillis + " ms of quiet");
        }
    }

    private static double clientConnections() {
        return f.sluice.registry().get("sluice.client.connections").gauge().value();
    }

    @Test
    void emptyLinesBeforeRequestLine_areIgnored() throws IOException {
        try (TestClient c = f.client()) {
            assertEquals(200, c.send("\r\n\r\nGET /a?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
        }
    }
}
