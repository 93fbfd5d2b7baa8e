package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Chunk size lines and trailer sections in both directions, through a scripted origin: what is forwarded is what
 * RFC 9112 7.1 allows, checked like header fields, and framing fields never travel in a trailer section.
 */
class ChunkedFramingTest {
    private static final String CHUNKED_PUT = "PUT /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";

    @ParameterizedTest
    @ValueSource(strings = {"5 junk\r\nhello\r\n0\r\n\r\n", "5;\r\nhello\r\n0\r\n\r\n", "5;a=\r\nhello\r\n0\r\n\r\n",
            "5;a=\"open\r\nhello\r\n0\r\n\r\n", "5;a b\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nNoColon\r\n\r\n",
            "5\r\nhello\r\n0\r\nBad Name: 1\r\n\r\n", "5\r\nhello\r\n0\r\nX: a\u0001b\r\n\r\n",
            "5\r\nhello\r\n0\r\n: empty\r\n\r\n"})
    void malformedChunkLineOrTrailer_inARequest_gets400(String body) throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.ok("got " + x.body.length));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            TestClient.Response r = c.send(CHUNKED_PUT + body).read();
            assertEquals(400, r.status, body + " -> " + r);
            assertTrue(c.closedByServer(3000));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"5;name=value\r\nhello\r\n0\r\n\r\n", "5 ; name = \"quoted ; \\\" text\"\r\nhello\r\n0\r\n\r\n",
            "5;a;b=c\r\nhello\r\n0;last\r\n\r\n", "2\r\nhe\r\n3\r\nllo\r\n0\r\nX-Sum: abc\r\n\r\n"})
    void wellFormedChunkExtensionsAndTrailers_areForwarded(String body) throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.ok(new String(x.body) + " " + x.trailers));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            TestClient.Response r = c.send(CHUNKED_PUT + body).read();
            assertEquals(200, r.status, body + " -> " + r);
            assertEquals("hello " + (body.contains("X-Sum") ? "[X-Sum: abc]" : "[]"), r.bodyText());
        }
    }

    /** Framing fields in a request's trailer section are dropped; the other trailer fields reach the origin. */
    @Test
    void framingFieldsInRequestTrailers_areDropped() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.ok(String.valueOf(x.trailers)));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            TestClient.Response r = c.send(CHUNKED_PUT + "5\r\nhello\r\n0\r\nContent-Length: 5\r\nX-Sum: abc\r\n"
                    + "Transfer-Encoding: chunked\r\nHost: evil\r\nX-B: 2\r\n\r\n").read();
            assertEquals("[X-Sum: abc, X-B: 2]", r.bodyText());
            // the connection stays in sync: a second request on it is answered
            assertEquals(200, c.send(CHUNKED_PUT + "0\r\n\r\n").read().status);
        }
    }

    @Test
    void framingFieldsInResponseTrailers_areDropped() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n0\r\nContent-Length: 99\r\nX-Sum: abc\r\nTransfer-Encoding: chunked\r\n\r\n"));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            for (int i = 0; i < 2; i++) {
                TestClient.Response r = c.send("GET /t HTTP/1.1\r\nHost: t\r\n\r\n").read();
                assertEquals("hello", r.bodyText());
                assertEquals(List.of("X-Sum: abc"), r.trailers);
            }
        }
    }

    /**
     * A malformed chunk line from the origin, after the response head went out: the client's response is cut short
     * (closed, never completed), and the access log says why, with 502 rather than the 200 the origin announced.
     */
    @ParameterizedTest
    @ValueSource(strings = {"5 junk\r\nhello\r\n0\r\n\r\n", "zz\r\n", "5\r\nhello\r\n0\r\nNoColon\r\n\r\n"})
    void malformedChunkLine_inAResponse_cutsItShortAndIsLogged(String body) throws Exception {
        Path log = Files.createTempFile("sluice-chunk", ".log");
        try (RawOrigin origin = new RawOrigin(x -> x.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "3\r\nabc\r\n" + body));
                Fixture f = new Fixture(origin.config("sluice.access-log { enabled = true, target = \"" + log + "\" }"),
                        "unused");
                TestClient c = f.client()) {
            c.socket.setSoTimeout(5000);
            c.send("GET /badchunk HTTP/1.1\r\nHost: t\r\n\r\n");
            boolean complete;
            try {
                TestClient.Response r = c.read();
                complete = !r.truncated;
            } catch (IOException | NumberFormatException e) {
                complete = false;
            }
            assertTrue(!complete, "a response with broken framing must not look complete");
            String line = Logs.awaitLine(log, "/badchunk", 5000);
            assertTrue(line.contains("\"status\":502"), line);
            assertTrue(line.contains("chunk") || line.contains("trailer"), line);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
