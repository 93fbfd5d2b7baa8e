package dev.sluice.loadtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class LoadClientTest {
    static Origin origin;

    @BeforeAll
    static void start() {
        origin = Origin.builder().name("lc").build();
    }

    @AfterAll
    static void stop() {
        origin.close();
    }

    private static LoadClient.Builder client(int port) {
        return LoadClient.builder().target("127.0.0.1", port).timeout(Duration.ofSeconds(3));
    }

    private static String describe(LoadClient.Result r) {
        return r.humanLine() + " " + r.failureSamples();
    }

    @Test
    void run_correctOrigin_passesWithKeepAlive() {
        try (Origin o = Origin.builder().build()) {
            LoadClient.Result r = client(o.port()).connections(3).requests(60).sizes("1k:3,65537:1,1m:1")
                    .build().run();
            assertFalse(r.failed(), describe(r));
            assertEquals(60, r.requestsTotal());
            assertEquals(60, r.requests());
            assertEquals(60, o.requests());
            assertEquals(3, o.connectionsAccepted());
            assertEquals(3, r.connects());
            assertTrue(r.bytes() >= 60 * 1024L, "bytes " + r.bytes());
            assertTrue(r.latencyP50Micros() > 0 && r.latencyP99Micros() >= r.latencyP50Micros());
            assertEquals("verify", r.mode());
        }
    }

    @Test
    void run_noVerify_countsEveryBodyByte() {
        LoadClient.Result r = client(origin.port()).connections(2).requests(20).sizes("300000").verify(false)
                .build().run();
        assertFalse(r.failed(), describe(r));
        assertEquals(20 * 300000L, r.bytes());
        assertFalse(r.verified());
    }

    @Test
    void run_noVerifyCopy_countsEveryBodyByte() {
        LoadClient.Result r = client(origin.port()).requests(5).sizes("1m").verify(false).discardInKernel(false)
                .build().run();
        assertFalse(r.failed(), describe(r));
        assertEquals(5L << 20, r.bytes());
        assertEquals("copy", r.mode());
    }

    @Test
    void run_chunkedCloseDelimitedAndUniquePaths_verified() {
        LoadClient.Result r = client(origin.port()).connections(2).requests(30)
                .urls(List.of("/a?size=100000&chunked=1", "/b?size=70000&nolen=1", "/c?size=0", "/d?status=204",
                        "/e?status=404&size=99"))
                .unique(true).build().run();
        assertFalse(r.failed(), describe(r));
        assertEquals(30, r.requestsTotal());
    }

    @Test
    void run_randomRanges_verifiedAgainstOffsets() {
        LoadClient.Result r = client(origin.port()).connections(2).requests(50).sizes("200000").range("random")
                .build().run();
        assertFalse(r.failed(), describe(r));
    }

    @Test
    void run_suffixAndUnsatisfiableRanges_pass() {
        assertFalse(client(origin.port()).requests(5).sizes("1000").range("-10").build().run().failed());
        assertFalse(client(origin.port()).requests(5).sizes("1000").range("1000-").build().run().failed());
    }

    @Test
    void run_relayFlipsOneByte_countsWrongBytesAndFails() throws Exception {
        Relay.Tamper flip = (pos, buf, n) -> {
            long at = 40_000; // inside the first response's body on each connection
            if (pos <= at && at < pos + n) {
                buf[(int) (at - pos)] ^= 0x01;
            }
            return n;
        };
        try (Relay relay = new Relay(origin.port(), Relay.NONE, flip)) {
            LoadClient.Result r = client(relay.port()).requests(4).sizes("100000").build().run();
            assertTrue(r.failed());
            assertEquals(1, r.wrongBytes(), describe(r));
            assertEquals(0, r.shortBodies());
            assertTrue(r.failureSamples().get(0).contains("wrong byte"), describe(r));
        }
    }

    @Test
    void run_relayFlipsByte_notDetectedWithoutVerify() throws Exception {
        Relay.Tamper flip = (pos, buf, n) -> {
            if (pos <= 40_000 && 40_000 < pos + n) {
                buf[(int) (40_000 - pos)] ^= 0x01;
            }
            return n;
        };
        try (Relay relay = new Relay(origin.port(), Relay.NONE, flip)) {
            LoadClient.Result r = client(relay.port()).requests(4).sizes("100000").verify(false).build().run();
            assertFalse(r.failed(), "no-verify must not see bytes: " + describe(r));
        }
    }

    @Test
    void run_relayCutsBody_countsShortAndFails() throws Exception {
        Relay.Tamper cut = (pos, buf, n) -> pos + n <= 50_000 ? n : -(int) Math.max(0, 50_000 - pos) - 1;
        try (Relay relay = new Relay(origin.port(), Relay.NONE, cut)) {
            LoadClient.Result r = client(relay.port()).requests(3).sizes("100000").build().run();
            assertTrue(r.failed());
            assertEquals(3, r.shortBodies(), describe(r));
            assertEquals(0, r.wrongBytes());
        }
    }

    @Test
    void run_relayShiftsRequestedRange_countsWrongRange() throws Exception {
        Relay.Tamper shift = (pos, buf, n) -> {
            String s = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
            byte[] t = s.replace("bytes=10-19", "bytes=11-20").getBytes(StandardCharsets.ISO_8859_1);
            System.arraycopy(t, 0, buf, 0, n);
            return n;
        };
        try (Relay relay = new Relay(origin.port(), shift, Relay.NONE)) {
            LoadClient.Result r = client(relay.port()).requests(3).sizes("1000").range("10-19").build().run();
            assertTrue(r.failed());
            assertEquals(3, r.wrongRange(), describe(r));
            assertEquals(3, r.wrongBytes(), describe(r)); // the slice's bytes are checked at the expected offset
        }
    }

    @Test
    void run_relayChangesStatus_countsWrongStatus() throws Exception {
        Relay.Tamper status = (pos, buf, n) -> {
            String s = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
            byte[] t = s.replace("HTTP/1.1 200 OK", "HTTP/1.1 503 OK").getBytes(StandardCharsets.ISO_8859_1);
            System.arraycopy(t, 0, buf, 0, n);
            return n;
        };
        try (Relay relay = new Relay(origin.port(), Relay.NONE, status)) {
            LoadClient.Result r = client(relay.port()).requests(2).sizes("10").build().run();
            assertTrue(r.failed());
            assertEquals(2, r.wrongStatus(), describe(r));
        }
    }

    @Test
    void run_upload_originVerifiesEveryByte() {
        try (Origin o = Origin.builder().build()) {
            LoadClient.Result r = client(o.port()).connections(2).requests(6).sizes("3m:1,100001:1").upload(true)
                    .build().run();
            assertFalse(r.failed(), describe(r));
            assertEquals(6, o.requests());
            assertEquals(2, o.connectionsAccepted());
            assertTrue(r.bytes() >= 6 * 100001L, "bytes " + r.bytes());
        }
    }

    @Test
    void run_uploadThroughFlippingRelay_countsOriginsMismatch() throws Exception {
        Relay.Tamper flip = (pos, buf, n) -> {
            if (pos <= 50_000 && 50_000 < pos + n) {
                buf[(int) (50_000 - pos)] ^= 0x40;
            }
            return n;
        };
        try (Relay relay = new Relay(origin.port(), flip, Relay.NONE)) {
            LoadClient.Result r = client(relay.port()).requests(2).sizes("200000").upload(true).build().run();
            assertTrue(r.failed());
            assertEquals(1, r.wrongBytes(), describe(r));
            assertTrue(r.failureSamples().get(0).contains("X-Body-Verified mismatch@"), describe(r));
        }
    }

    @Test
    void run_originShortFault_countsShort() {
        LoadClient.Result r = client(origin.port()).requests(2).urls(List.of("/s?size=100000&fault=short@1000"))
                .build().run();
        assertTrue(r.failed());
        assertEquals(2, r.shortBodies(), describe(r));
    }

    @Test
    void run_originResetFault_countsShort() {
        LoadClient.Result r = client(origin.port()).requests(2).urls(List.of("/s?size=1m&fault=reset@70000"))
                .build().run();
        assertTrue(r.failed());
        assertEquals(2, r.shortBodies(), describe(r));
    }

    @Test
    void run_originStalls_timesOutAndStops() {
        long t0 = System.nanoTime();
        LoadClient.Result r = client(origin.port()).timeout(Duration.ofMillis(300)).requests(1)
                .urls(List.of("/s?size=100000&fault=stall@10")).build().run();
        assertTrue(r.failed());
        assertEquals(1, r.timeouts(), describe(r));
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
    }

    @Test
    void run_duration_stopsByItself() {
        long t0 = System.nanoTime();
        LoadClient.Result r = client(origin.port()).connections(4).duration(Duration.ofMillis(400))
                .warmup(Duration.ofMillis(100)).sizes("4k").pid(ProcessHandle.current().pid()).build().run();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertFalse(r.failed(), describe(r));
        assertTrue(ms >= 500 && ms < 3000, "took " + ms + " ms");
        assertEquals(0.4, r.seconds(), 0.05);
        assertTrue(r.requests() > 0 && r.requests() <= r.requestsTotal());
        double cpu = r.cpuSeconds().get(ProcessHandle.current().pid());
        assertTrue(cpu >= 0 && cpu < 10, "cpu " + cpu);
        // the kernel part is part of the total (both in 10 ms ticks)
        assertTrue(r.cpuSystemSeconds() >= 0 && r.cpuSystemSeconds() <= r.cpuTotalSeconds(),
                r.cpuSystemSeconds() + " of " + r.cpuTotalSeconds());
    }

    @Test
    void run_nothingListening_failsAndStops() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        LoadClient.Result r = client(port).requests(3).build().run();
        assertTrue(r.failed());
        assertTrue(r.errors() >= 1, describe(r));
    }

    @Test
    void main_passingRun_exit0AndJsonLine() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        int rc = LoadClientMain.run(new String[] {"--target", "127.0.0.1:" + origin.port(), "-n", "10", "-c", "2",
            "--sizes", "1k:1,2k:1", "--format", "both", "--csv-header", "--label", "x"}, new PrintStream(bo, true));
        String out = bo.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        String[] lines = out.split("\n");
        assertTrue(lines[0].startsWith("[x] ok 10 req"), out);
        assertTrue(lines[1].startsWith("label,ok,"), out);
        assertTrue(lines[2].startsWith("{\"label\":\"x\",\"ok\":true,"), out);
        assertTrue(lines[3].startsWith("x,true,verify,2,"), out);
    }

    @Test
    void main_failingRun_exit1() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        int rc = LoadClientMain.run(new String[] {"--target", "127.0.0.1:" + origin.port(), "-n", "1",
            "--path", "/s?size=1000&fault=short@10"}, new PrintStream(bo, true));
        String out = bo.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, out);
        assertTrue(out.contains("\"ok\":false"), out);
        assertTrue(out.contains("failure: "), out);
    }

    @Test
    void main_badUsage_throws() {
        assertThrows(IllegalArgumentException.class, () -> LoadClientMain.run(new String[] {"--bogus", "1"},
                new PrintStream(new ByteArrayOutputStream())));
        assertThrows(IllegalStateException.class, () -> LoadClientMain.run(new String[] {"--target",
            "127.0.0.1:1"}, new PrintStream(new ByteArrayOutputStream())));
        assertEquals(Duration.ofMillis(1500), LoadClientMain.duration("1.5s"));
        assertEquals(Duration.ofMinutes(2), LoadClientMain.duration("2m"));
    }
}
