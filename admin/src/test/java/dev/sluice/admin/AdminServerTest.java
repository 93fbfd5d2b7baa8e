package dev.sluice.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The admin listener through real sockets, with a plain blocking client writing raw bytes: the same head and idle
 * timeouts and head limits as the data path, and a bind failure that names the address.
 */
class AdminServerTest {
    /** Short timeouts so the tests run quickly; idle is well above request-head so the two can be told apart. */
    static final Duration REQUEST_HEAD = Duration.ofMillis(500);
    static final Duration IDLE = Duration.ofMillis(2000);
    static final int MAX_TARGET = 1024;
    static final int MAX_HEADER = 4096;
    /** Timer slack allowed below a deadline (the timer never fires early, but clocks are read apart). */
    static final long EARLY_MS = 100;

    PrometheusMeterRegistry registry;
    AdminServer server;

    @BeforeEach
    void start() throws Exception {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.counter("admin_test_total").increment();
        server = start(0);
    }

    AdminServer start(int port) throws Exception {
        return AdminServer.start("127.0.0.1", port, 1,
                new AdminServer.Limits(REQUEST_HEAD, IDLE, MAX_TARGET, MAX_HEADER), registry,
                () -> "{\"status\":\"ok\"}");
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void healthAndMetricsOverOneKeepAliveConnection() throws Exception {
        try (Client c = client()) {
            Response health = c.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n").read();
            assertEquals(200, health.status);
            assertEquals("{\"status\":\"ok\"}\n", health.body);
            Response metrics = c.send("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").read();
            assertEquals(200, metrics.status);
            assertTrue(metrics.body.contains("admin_test_total 1.0"), metrics.body);
            Response head = c.send("HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n").readHead();
            assertEquals(200, head.status);
            // two pipelined requests in one write: both answered, in order
            Response first = c.send("GET /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n"
                    + "Connection: close\r\n\r\n").read();
            assertEquals(404, first.status);
            Response last = c.read();
            assertEquals(200, last.status);
            assertEquals("close", last.header("connection"));
            c.assertEof();
        }
    }

    /** The reply of each reload outcome, over a fake reload (the real one is tested in proxy's ConfigReloadTest). */
    @Test
    void configReloadAnswersEachOutcomeAsJson() throws Exception {
        java.util.ArrayDeque<ConfigReload.Outcome> outcomes = new java.util.ArrayDeque<>(java.util.List.of(
                new ConfigReload.Applied("/etc/s.conf", 2, java.util.List.of("routes: added a"),
                        java.util.List.of("event-loops: 0 -> 2")),
                new ConfigReload.Invalid("/etc/s.conf", java.util.List.of("/etc/s.conf:3: sluice.x: unknown key")),
                new ConfigReload.NoFile("nothing to reload")));
        try (AdminServer s = AdminServer.start("127.0.0.1", 0, 1,
                new AdminServer.Limits(REQUEST_HEAD, IDLE, MAX_TARGET, MAX_HEADER), registry, () -> "{}", "", null,
                trigger -> outcomes.poll()); Client c = new Client(s.address().getPort())) {
            String post = "POST /config/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
            Response applied = c.send(post).read();
            assertEquals(200, applied.status);
            assertEquals("{\"file\":\"/etc/s.conf\",\"generation\":2,\"changed\":[\"routes: added a\"],"
                    + "\"restart_required\":[\"event-loops: 0 -> 2\"]}\n", applied.body);
            Response invalid = c.send(post).read();
            assertEquals(422, invalid.status);
            assertEquals("{\"error\":\"the configuration file is invalid; nothing changed\",\"status\":422,"
                    + "\"file\":\"/etc/s.conf\",\"problems\":[\"/etc/s.conf:3: sluice.x: unknown key\"]}\n", invalid.body);
            Response none = c.send(post).read();
            assertEquals(409, none.status);
            assertEquals("{\"error\":\"nothing to reload\",\"status\":409}\n", none.body);
        }
        try (Client c = client()) { // a server with no reload behind it
            assertEquals(404, c.send("POST /config/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").read().status);
        }
    }

    @Test
    void partialHeadGets408AndClose() throws Exception {
        try (Client c = client()) {
            long t0 = System.nanoTime();
            Response r = c.send("GET /health HTTP/1.1\r\nHost: a\r\n").read();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(408, r.status);
            assertEquals("close", r.header("connection"));
            assertTrue(ms >= REQUEST_HEAD.toMillis() - EARLY_MS, "408 after " + ms + " ms");
            c.assertEof();
        }
    }

    @Test
    void headTrickledByteByByteStillTimesOut() throws Exception {
        try (Client c = client()) {
            c.socket.setSoTimeout(100);
            long t0 = System.nanoTime();
            String head = "GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: " + "s".repeat(100);
            Response r = null;
            for (int i = 0; i < head.length() && r == null; i++) {
                c.send(head.substring(i, i + 1));
                try {
                    r = c.read(); // waits up to 100 ms between bytes
                } catch (SocketTimeoutException e) {
                    // no reply yet: send the next byte
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(r != null, "no reply to a head trickled over " + ms + " ms");
            assertEquals(408, r.status);
            assertTrue(ms >= REQUEST_HEAD.toMillis() - EARLY_MS, "408 after " + ms + " ms");
        }
    }

    @Test
    void silentConnectionIsClosedAfterTheHeadTimeout() throws Exception {
        try (Client c = client()) {
            long t0 = System.nanoTime();
            c.assertEof(); // no reply at all, just the close
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= REQUEST_HEAD.toMillis() - EARLY_MS, "closed after " + ms + " ms");
        }
    }

    /**
     * Waiting longer than request-head between requests is fine (idle governs there); the head timer starts with
     * the next head's first byte, so a head sent in two parts after the wait is answered.
     */
    @Test
    void keepAliveWaitLongerThanHeadTimeoutThenRequestGets200() throws Exception {
        try (Client c = client()) {
            assertEquals(200, c.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n").read().status);
            c.assertNothingFor(REQUEST_HEAD.toMillis() * 2); // longer than request-head, shorter than idle
            c.send("GET /health HTTP/1.1\r\n");
            c.assertNothingFor(REQUEST_HEAD.toMillis() / 4);
            Response r = c.send("Host: a\r\n\r\n").read();
            assertEquals(200, r.status);
        }
    }

    @Test
    void keepAliveConnectionIdlePastIdleTimeoutIsClosed() throws Exception {
        try (Client c = client()) {
            assertEquals(200, c.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n").read().status);
            long t0 = System.nanoTime();
            c.assertEof();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= IDLE.toMillis() - EARLY_MS, "closed after " + ms + " ms");
        }
    }

    @Test
    void targetOverTheLimitGets414() throws Exception {
        // over the target limit, within the line Netty's decoder accepts: refused by the target check
        refused("GET /" + "a".repeat(MAX_TARGET) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
        // far over it: refused by the decoder's line limit
        refused("GET /" + "a".repeat(MAX_TARGET * 4) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
    }

    @Test
    void headOverTheLimitGets431() throws Exception {
        // one header section over the limit: refused by the decoder
        refused("GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + "b".repeat(MAX_HEADER) + "\r\n\r\n", 431);
        // line and headers each within their limits, together over max-header-size
        refused("GET /" + "a".repeat(MAX_TARGET - 10) + " HTTP/1.1\r\nHost: a\r\nX-Big: "
                + "b".repeat(MAX_HEADER - 200) + "\r\n\r\n", 431);
    }

    @Test
    void malformedHeadGets400() throws Exception {
        refused("this is not http\r\n\r\n", 400);
        refused("GET /health HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400);
        refused("GET /health HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n", 400);
    }

    @Test
    void bodyOverTheLimitGets413AndClose() throws Exception {
        int over = AdminServer.MAX_BODY + 1;
        refused("POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: " + over + "\r\n\r\n", 413);
        // chunked, so only the aggregator sees it is too large
        refused("POST /health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(over) + "\r\n" + "x".repeat(over) + "\r\n0\r\n\r\n", 413);
    }

    @Test
    void bindFailureNamesTheAddress() throws Exception {
        int port = server.address().getPort();
        BindException e = assertThrows(BindException.class, () -> start(port));
        assertTrue(e.getMessage().startsWith("admin listener 127.0.0.1:" + port + ": "), e.getMessage());
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
        // the failed listener's event loop group is shut down: only the running server's loop is left
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (adminThreads() > 1 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, adminThreads());
    }

    private static long adminThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("sluice-admin-")).count();
    }

    /** {@code raw} gets {@code status} with Connection: close, then the connection ends. */
    private void refused(String raw, int status) throws IOException {
        try (Client c = client()) {
            Response r = c.send(raw).read();
            assertEquals(status, r.status, r.statusLine + " " + r.body);
            assertEquals("close", r.header("connection"));
            c.assertEof();
        }
    }

    private Client client() throws IOException {
        return new Client(server.address().getPort());
    }

    record Response(int status, String statusLine, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /** A blocking socket writing raw bytes and reading responses as they are on the wire. */
    static final class Client implements AutoCloseable {
        final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Client(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(10_000);
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        Client send(String raw) throws IOException {
            out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return this;
        }

        /** A response with a Content-Length body. */
        Response read() throws IOException {
            Response head = readHead();
            String length = head.header("content-length");
            byte[] body = in.readNBytes(length == null ? 0 : Integer.parseInt(length));
            if (length != null && body.length != Integer.parseInt(length)) {
                throw new EOFException("body cut short: " + body.length + " of " + length);
            }
            return new Response(head.status, head.statusLine, head.headers, new String(body, StandardCharsets.UTF_8));
        }

        /** A response head only (the answer to HEAD). */
        Response readHead() throws IOException {
            String statusLine = line();
            Map<String, String> headers = new LinkedHashMap<>();
            for (String l = line(); !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            return new Response(Integer.parseInt(statusLine.split(" ")[1]), statusLine, headers, "");
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new EOFException("connection closed mid-response: " + b);
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.ISO_8859_1);
        }

        /** The server closes: end of stream, no further bytes (within the socket timeout). */
        void assertEof() throws IOException {
            assertEquals(-1, in.read(), "expected the connection to be closed");
        }

        /** The server neither sends nor closes for {@code ms}. */
        void assertNothingFor(long ms) throws IOException {
            int before = socket.getSoTimeout();
            socket.setSoTimeout((int) ms);
            try {
                assertThrows(SocketTimeoutException.class, in::read);
            } finally {
                socket.setSoTimeout(before);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
