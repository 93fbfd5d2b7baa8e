package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The clocks a client connection runs on: head, keep-alive idle, upload rate, and what the access log says of them. */
class ClientTimingTest {
    /**
     * The request-head timer used to start when the previous response ended, so a keep-alive client that paused
     * longer than {@code request-head} and then sent a head in two writes got 408. Idle waits fall under
     * {@code timeouts.idle}; the head timer starts at a head's first byte.
     */
    @Test
    void keepAliveClient_idleLongerThanTheHeadTimeout_thenASlowHead_isServed() throws Exception {
        try (Fixture f = new Fixture(Fixture.simple("""
                sluice.timeouts { request-head = 400ms, idle = 10s }
                """), "o");
                TestClient c = f.client()) {
            assertEquals(200, c.send("GET /a?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
            Thread.sleep(700); // idle, longer than request-head
            c.send("GET /b?size=10 HTTP/1.1\r\n");
            Thread.sleep(200);
            TestClient.Response r = c.send("Host: t\r\n\r\n").read();
            assertEquals(200, r.status, r.toString());
            // the head timer still runs from a head's first byte
            c.send("GET /c?size=10 HTTP/1.1\r\n");
            assertEquals(408, c.read().status);
        }
    }

    /** A keep-alive connection with nothing to say is closed after {@code timeouts.idle}, not the head timeout. */
    @Test
    void idleKeepAliveConnection_closesAfterTheIdleTimeout() throws Exception {
        try (Fixture f = new Fixture(Fixture.simple("""
                sluice.timeouts { request-head = 300ms, idle = 1200ms }
                """), "o");
                TestClient c = f.client()) {
            assertEquals(200, c.send("GET /a?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
            long t0 = System.nanoTime();
            assertTrue(c.closedByServer(5000));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 1000, "closed after " + ms + " ms, before the idle timeout");
        }
    }

    /** {@code duration_ms} used to include the keep-alive wait before the request (3,017 ms logged for 14 ms). */
    @Test
    void accessLogDuration_excludesTheKeepAliveWait() throws Exception {
        Path log = Files.createTempFile("sluice-duration", ".log");
        try (Fixture f = new Fixture(Fixture.simple("sluice.access-log { enabled = true, target = \"" + log + "\" }"), "o");
                TestClient c = f.client()) {
            assertEquals(200, c.send("GET /first?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
            Thread.sleep(1200);
            assertEquals(200, c.send("GET /second?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
            String line = Logs.awaitLine(log, "/second", 5000);
            double ms = Double.parseDouble(line.replaceAll(".*\"duration_ms\":([0-9.]+).*", "$1"));
            assertTrue(ms < 1000, "logged " + ms + " ms: " + line);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * A chunk size that overflows, refused with 400 on a fresh upstream connection, used to throw a
     * NullPointerException (a 30-line trace per request) after the exchange had already ended. On a pooled
     * connection too.
     */
    @Test
    void chunkSizeOverflow_isRefusedWithoutAnException() throws Exception {
        try (Logs.Capture logs = new Logs.Capture();
                Fixture f = new Fixture(Fixture.simple("sluice.event-loops = 1"), "o")) {
            for (int i = 0; i < 3; i++) {
                try (TestClient c = f.client()) {
                    if (i == 2) { // the upstream connection of the warm-up request is pooled now
                        assertEquals(200, c.send("GET /warm?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
                    }
                    TestClient.Response r = c.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + "ffffffffffffffff1\r\n").read();
                    assertEquals(400, r.status, r.toString());
                    assertTrue(c.closedByServer(3000));
                }
            }
            assertEquals(java.util.List.of(), logs.withThrowable().stream()
                    .map(r -> r.getMessage() + ": " + r.getThrown()).toList());
        }
    }

    /**
     * An upload that trickles (one byte every 300 ms here, one every 8 s in the audit) used to hold its upstream
     * connection for as long as the client liked. Below {@code limits.min-request-body-rate} over a window, it
     * gets 408 and both connections close.
     */
    @Test
    void tricklingUpload_isCutAtTheMinimumRate() throws Exception {
        CountDownLatch originSawEnd = new CountDownLatch(1);
        try (RawOrigin origin = new RawOrigin(x -> {
                    originSawEnd.countDown(); // reached only if the whole body arrived
                    x.ok("got " + x.body.length);
                });
                Fixture f = new Fixture(origin.config("""
                        sluice.limits.min-request-body-rate { bytes-per-second = 100, window = 1s }
                        sluice.timeouts.idle = 30s
                        """), "unused");
                TestClient c = f.client()) {
            c.send("PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
            long t0 = System.nanoTime();
            TestClient.Response r = null;
            c.socket.setSoTimeout(300);
            for (int i = 0; i < 40 && r == null; i++) {
                try {
                    c.send("x");
                    r = c.read();
                } catch (java.net.SocketTimeoutException e) {
                    // still uploading
                } catch (java.io.IOException e) {
                    break; // closed: reported below
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(r != null && r.status == 408, "after " + ms + " ms: " + r);
            assertTrue(ms < 4000, "cut after " + ms + " ms");
            assertTrue(ms >= 900, "cut after " + ms + " ms, before one window had passed");
            assertEquals(1, origin.connections());
            assertTrue(!originSawEnd.await(100, TimeUnit.MILLISECONDS));
            // an upload at a fair rate is untouched
            try (TestClient ok = f.client()) {
                ok.send("PUT /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\n");
                for (int i = 0; i < 3; i++) {
                    Thread.sleep(500);
                    ok.send("y".repeat(100)); // 200 bytes/s
                }
                assertEquals("got 300", ok.read().bodyText());
            }
        }
    }
}
