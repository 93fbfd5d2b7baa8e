package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Payload;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.search.Search;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** L4 (mode = tcp) listeners: raw bytes both ways, half-close, idle timeout. */
class TcpRelayTest {
    private static String conf(String upstream, String extra) {
        return conf(upstream, extra, "auto");
    }

    private static String conf(String upstream, String extra, String mode) {
        return """
                sluice {
                  event-loops = 2
                  listeners = [
                    { name = http, address = "127.0.0.1:0" }
                    { name = raw, mode = tcp, address = "127.0.0.1:0", upstream = backend, idle-timeout = 2s, zero-copy = %s }
                  ]
                  upstreams { backend { servers = ["%s"] } }
                  allow-no-routes = true   # the http listener beside the tcp one has no routes here
                  admin.enabled = false
                  access-log.enabled = false
                }
                """.formatted(mode, upstream) + extra;
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void tcpListener_forwardsHttpByteExact_inBothDirections(String mode) throws Exception {
        try (Fixture f = new Fixture(conf("127.0.0.1:%1$d", "", mode), "l4"); TestClient c = new TestClient(f.sluice.port("raw"))) {
            for (long size : new long[] {0, 1, 4095, 65536, 1048577}) {
                String path = "/l4/" + size;
                TestClient.Response r = c.send("GET " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\n\r\n").read(false, path, 0);
                assertEquals(size, r.bodyLength);
                assertEquals(-1, r.firstMismatch);
                c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + size + "\r\n\r\n")
                        .sendPayload(path, 0, size);
                assertEquals("ok", c.read().header("X-Body-Verified"));
            }
            // raw: the origin saw the exact client bytes, no Via/X-Forwarded-For added at L4
            String echo = c.send("GET /e?echo=1 HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n").read().bodyText();
            assertTrue(!echo.contains("Via") && echo.contains("Connection: keep-alive"), echo);
            assertEquals(1, f.origin(0).connectionsAccepted());
        }
    }

    /** Stopping Sluice while a pump waits on a stalled upstream ends the relay first: pumps cancelled, then closed. */
    @org.junit.jupiter.api.Test
    void close_withAPumpInFlight_endsTheRelayFirst() throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("sluice-l4-stop", ".log");
        String extra = "sluice.access-log { enabled = true, target = \"" + log + "\" }\n";
        Fixture f = new Fixture(conf("127.0.0.1:%1$d", extra, "splice"), "l4stop");
        try (TestClient c = new TestClient(f.sluice.port("raw"))) {
            c.send("GET /l4stop?size=64m&fault=stall@100000 HTTP/1.1\r\nHost: t\r\n\r\n").readHeadOnly();
            Await.until("the relay pumping through its pipes", () -> Await.pipesInUse(f) >= 1);
            f.sluice.close();
            String logged = java.nio.file.Files.readString(log);
            assertTrue(logged.contains("\"method\":\"TCP\"") && logged.contains("Sluice stopped"), logged);
        } finally {
            f.close(); // a no-op for Sluice now; then the leak check
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    private static double l4Bytes(Fixture f, String direction, String mechanism) {
        return Search.in(f.sluice.registry()).name("sluice.body.bytes").tag("route", "raw").tag("direction", direction)
                .tag("mechanism", mechanism).counters().stream().mapToDouble(Counter::count).sum();
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void tcpListener_bytesAreCountedByMechanism(String mode) throws Exception {
        try (Fixture f = new Fixture(conf("127.0.0.1:%1$d", "", mode), "l4m")) {
            try (TestClient c = new TestClient(f.sluice.port("raw"))) {
                TestClient.Response r = c.send("GET /m?size=8m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/m", 0);
                assertEquals(-1, r.firstMismatch);
            }
            double out = 0;
            for (int i = 0; i < 100 && out < (8 << 20); i++) {
                Thread.sleep(20);
                out = l4Bytes(f, "out", mode);
            }
            assertTrue(out >= 8 << 20, mode + " carried " + out);
            assertEquals(0, l4Bytes(f, "out", mode.equals("splice") ? "copy" : "splice"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void halfClose_clientFinReachesServer_andReplyStillComesBack(String mode) throws Exception {
        try (ServerSocket backend = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofVirtual().start(() -> {
                try (Socket s = backend.accept()) {
                    InputStream in = s.getInputStream();
                    long n = 0;
                    long seed = Payload.seed("/hc");
                    long bad = -1;
                    byte[] buf = new byte[65536];
                    int r;
                    while ((r = in.read(buf)) > 0) { // until the client's FIN arrives through the relay
                        long m = Payload.firstMismatch(seed, n, buf, 0, r);
                        if (bad < 0 && m >= 0) {
                            bad = m;
                        }
                        n += r;
                    }
                    s.getOutputStream().write(("got " + n + " bad " + bad + "\n").getBytes(StandardCharsets.US_ASCII));
                } catch (IOException ignored) {
                    // reported by the client side
                }
            });
            try (Fixture f = new Fixture(conf("127.0.0.1:" + backend.getLocalPort(), "", mode), "unused");
                    Socket s = new Socket("127.0.0.1", f.sluice.port("raw"))) {
                s.setSoTimeout(10_000);
                long size = 3_000_000;
                byte[] buf = new byte[65536];
                long seed = Payload.seed("/hc");
                for (long off = 0; off < size; off += buf.length) {
                    int n = (int) Math.min(buf.length, size - off);
                    Payload.fill(seed, off, buf, 0, n);
                    s.getOutputStream().write(buf, 0, n);
                }
                s.shutdownOutput();
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertEquals("got " + size + " bad -1\n", reply);
            }
            server.join(5000);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void halfClose_serverFinReachesClient_andClientMaySendMore(String mode) throws Exception {
        try (ServerSocket backend = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofVirtual().start(() -> {
                try (Socket s = backend.accept()) {
                    s.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
                    s.shutdownOutput(); // server done talking, still listening
                    byte[] all = s.getInputStream().readAllBytes();
                    s.getOutputStream().flush();
                    if (!new String(all, StandardCharsets.US_ASCII).equals("after fin")) {
                        throw new IOException("server got " + new String(all, StandardCharsets.US_ASCII));
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (Fixture f = new Fixture(conf("127.0.0.1:" + backend.getLocalPort(), "", mode), "unused");
                    Socket s = new Socket("127.0.0.1", f.sluice.port("raw"))) {
                s.setSoTimeout(10_000);
                assertEquals("hello\n", new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
                s.getOutputStream().write("after fin".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                server.join(5000);
                assertTrue(!server.isAlive());
            }
        }
    }

    @Test
    void idleConnection_isClosedAfterIdleTimeout() throws Exception {
        String c = conf("127.0.0.1:%1$d", "").replace("idle-timeout = 2s", "idle-timeout = 300ms");
        try (Fixture f = new Fixture(c, "idle"); TestClient t = new TestClient(f.sluice.port("raw"))) {
            long t0 = System.nanoTime();
            assertTrue(t.closedByServer(5000));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 250 && ms < 3000, "closed after " + ms + " ms");
        }
    }

    @Test
    void upstreamDown_closesClientConnection() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = s.getLocalPort();
        }
        try (Fixture f = new Fixture(conf("127.0.0.1:" + dead, ""), "unused"); TestClient t = new TestClient(f.sluice.port("raw"))) {
            assertTrue(t.closedByServer(5000));
        }
    }
}
