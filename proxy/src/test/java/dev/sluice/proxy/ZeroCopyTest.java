package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.search.Search;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 3's suite, run with zero-copy = splice and = copy so both paths stay correct: byte-exact bodies
 * both ways over keep-alive sequences of mixed sizes, faults, and file descriptors (sockets and pipes)
 * back to their baseline afterwards.
 */
class ZeroCopyTest {
    private static final long[] SIZES = {0, 1, 4095, 65536, 1048577, 65536, 1, 4 << 20, 0, 300_000};

    private static Fixture fixture(String mode, String extra) throws Exception {
        return new Fixture(Fixture.simple("sluice.routes = [ { name = main, upstream = origin, zero-copy = " + mode + " } ]\n"
                + extra), "zc-" + mode);
    }

    /** The counter, after waiting (bounded) for it to reach {@code atLeast}: it is recorded when the exchange ends. */
    private static double bytes(Fixture f, String direction, String mechanism, double atLeast) throws InterruptedException {
        double v = bytes(f, direction, mechanism);
        for (int i = 0; i < 100 && v < atLeast; i++) {
            Thread.sleep(20);
            v = bytes(f, direction, mechanism);
        }
        return v;
    }

    private static double bytes(Fixture f, String direction, String mechanism) {
        return Search.in(f.sluice.registry()).name("sluice.body.bytes").tag("route", "main")
                .tag("direction", direction).tag("mechanism", mechanism).counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    /** What each open fd is (socket:[inode], pipe:[inode], a path), for leak messages. */
    static java.util.Map<String, String> fdTargets() {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        for (String fd : Objects.requireNonNull(new File("/proc/self/fd").list())) {
            try {
                m.put(fd, java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd", fd)).toString());
            } catch (IOException e) {
                // closed meanwhile
            }
        }
        return m;
    }

    private static double pipesOpen(Fixture f) {
        return Search.in(f.sluice.registry()).name("sluice.splice.pipes.open").gauges().stream()
                .mapToDouble(g -> g.value()).sum();
    }

    /** Inodes of sockets whose local port is {@code port} (the in-process origin's side, not the proxy's). */
    static java.util.Set<String> socketInodesOnPort(int port) {
        java.util.Set<String> inodes = new java.util.HashSet<>();
        String hexPort = String.format(":%04X", port);
        for (String table : new String[] {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
            try {
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && f[1].endsWith(hexPort)) {
                        inodes.add(f[9]);
                    }
                }
            } catch (IOException e) {
                // no such table
            }
        }
        return inodes;
    }

    private static int originPort = -1;

    /** Open fds of this JVM, not counting the in-process origin's own sockets. */
    static int openFds() {
        if (originPort < 0) {
            return Objects.requireNonNull(new File("/proc/self/fd").list()).length;
        }
        java.util.Set<String> origin = socketInodesOnPort(originPort);
        int n = 0;
        for (String target : fdTargets().values()) {
            if (!(target.startsWith("socket:[") && origin.contains(target.substring(8, target.length() - 1)))) {
                n++;
            }
        }
        return n;
    }

    /** Waits (bounded) for fds to settle back to at most {@code baseline}; returns the last count. */
    static int settleFds(int baseline) throws InterruptedException {
        int n = openFds();
        for (int i = 0; i < 100 && n > baseline; i++) {
            Thread.sleep(50);
            n = openFds();
        }
        return n;
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void mixedSizes_keepAlive_bothDirections_byteExact(String mode) throws Exception {
        try (Fixture f = fixture(mode, ""); TestClient c = f.client()) {
            long total = 0;
            for (int i = 0; i < SIZES.length; i++) {
                long size = SIZES[i];
                String path = "/zc/" + mode + "/" + i;
                TestClient.Response r = c.send("GET " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\n\r\n").read(false, path, 0);
                assertEquals(size, r.bodyLength, "GET " + size);
                assertEquals(-1, r.firstMismatch, "GET " + size + " wrong byte at " + r.firstMismatch);
                c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + size + "\r\n\r\n")
                        .sendPayload(path, 0, size);
                TestClient.Response p = c.read();
                assertEquals("ok", p.header("X-Body-Verified"), "PUT " + size + ": " + p);
                total += size;
            }
            assertEquals(1, f.origin(0).connectionsAccepted(), "one upstream connection for the whole sequence");
            String other = mode.equals("splice") ? "copy" : "splice";
            assertTrue(bytes(f, "out", mode, total / 2) > total / 2, mode + " moved " + bytes(f, "out", mode) + " of " + total);
            assertTrue(bytes(f, "in", mode, total / 2) > total / 2, mode + " uploaded " + bytes(f, "in", mode) + " of " + total);
            if (mode.equals("copy")) {
                assertEquals(0, bytes(f, "out", other) + bytes(f, "in", other), "copy mode must not splice");
            }
        }
    }

    /**
     * Chunked bodies: the data of chunks big enough is spliced, their size lines are copied and checked, and the
     * framing reaches the peer verbatim, in both directions; a reset inside a spliced chunk never looks complete.
     */
    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void chunkedBodies_chunkDataSpliced_bothDirections_byteExact(String mode) throws Exception {
        // 1 MiB and 300000-byte chunks are spliced (less what came with their size line); 64 KiB ones are not
        // (what is left after the size line read is under splice.min-bytes in auto mode); "" is the origin's
        // cycle of 1, 2, 7, ..., 64 KiB - 1, 12345-byte chunks
        String[] chunkings = {"&chunk=1048576", "&chunk=300000", "&chunk=65536", ""};
        long size = 5_000_003;
        try (Fixture f = fixture(mode, ""); TestClient c = f.client()) {
            for (int i = 0; i < chunkings.length; i++) {
                String path = "/zc/chunked/" + mode + "/" + i;
                TestClient.Response r = c.send("GET " + path + "?size=" + size + "&chunked=1" + chunkings[i]
                        + " HTTP/1.1\r\nHost: t\r\n\r\n").read(false, path, 0);
                assertEquals("chunked", r.header("Transfer-Encoding"), r.toString());
                assertEquals(size, r.bodyLength, chunkings[i]);
                assertEquals(-1, r.firstMismatch, chunkings[i] + ": wrong byte at " + r.firstMismatch);
                assertTrue(!r.truncated, chunkings[i]);
            }
            long[] chunks = {1 << 20, 200_000, 7, 1 << 20, 70_000};
            long total = 0;
            for (long n : chunks) {
                total += n;
            }
            String up = "/zc/chunked-up/" + mode;
            c.send("PUT " + up + "?size=" + total + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
            long off = 0;
            for (long n : chunks) {
                c.send(Long.toHexString(n) + "\r\n").sendPayload(up, off, n).send("\r\n");
                off += n;
            }
            TestClient.Response p = c.send("0\r\n\r\n").read();
            assertEquals("ok", p.header("X-Body-Verified"), p.toString());
            assertEquals(String.valueOf(total), p.header("X-Received-Bytes"));
            assertEquals(1, f.origin(0).connectionsAccepted(), "keep-alive held across chunked bodies");
            if (mode.equals("splice")) {
                double out = bytes(f, "out", "splice", 8 << 20);
                assertTrue(out >= 8 << 20, "chunk data spliced out: " + out);
                double in = bytes(f, "in", "splice", 2_000_000);
                assertTrue(in >= 2_000_000, "chunk data spliced in: " + in);
            } else {
                assertEquals(0, bytes(f, "out", "splice") + bytes(f, "in", "splice"), "copy mode must not splice");
            }
        }
        try (Fixture f = fixture(mode, ""); TestClient c = f.client()) {
            String path = "/zc/chunked-rst/" + mode;
            TestClient.Response r = c.send("GET " + path + "?size=4m&chunked=1&chunk=1048576&fault=reset@1500000"
                    + " HTTP/1.1\r\nHost: t\r\n\r\n").read(false, path, 0);
            assertTrue(r.truncated, "reset inside a chunk: " + r.bodyLength);
            assertEquals(-1, r.firstMismatch);
        }
    }

    /** A chunk whose size takes an upload past max-request-body is not spliced past the limit: 413, as copied. */
    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void chunkedUpload_pastTheBodyLimit_413(String mode) throws Exception {
        try (Fixture f = fixture(mode, "sluice.limits.max-request-body = 1MiB"); TestClient c = f.client()) {
            String up = "/zc/chunked-limit/" + mode;
            c.send("PUT " + up + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Long.toHexString(3 << 20) + "\r\n");
            try {
                c.sendPayload(up, 0, 1_200_000);
            } catch (IOException e) {
                // the proxy may refuse and close before the client has sent it all
            }
            TestClient.Response r = c.read();
            assertEquals(413, r.status, r.toString());
            assertTrue(bytes(f, "in", "splice") == 0, "nothing spliced towards the limit");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void body256MiB_byteExact(String mode) throws Exception {
        try (Fixture f = fixture(mode, ""); TestClient c = f.client()) {
            long size = 256L << 20;
            TestClient.Response r = c.send("GET /zc/big?size=256m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/zc/big", 0);
            assertEquals(size, r.bodyLength);
            assertEquals(-1, r.firstMismatch);
            assertTrue(bytes(f, "out", mode, size - 65536) >= size - 65536, mode + " carried " + bytes(f, "out", mode));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void faults_neverLookComplete_andFdsReturnToBaseline(String mode) throws Exception {
        // no idle pooling here: an idle upstream connection holds two fds in this JVM (proxy and in-process
        // origin side), which would blur the baseline
        try (Fixture f = fixture(mode, "sluice.timeouts.idle = 500ms\nsluice.upstreams.origin.pool.max-idle = 0")) {
            try (TestClient warm = f.client()) { // first use creates pools, pipes and the loop's ring state
                warm.send("GET /warm?size=2m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/warm", 0);
            }
            originPort = f.origin(0).port();
            int rawBaseline = settleFds(openFds());
            double pipesBefore = pipesOpen(f);
            java.util.Map<String, String> before = fdTargets();
            // origin resets mid-body
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /f/rst?size=4m&fault=reset@1500000 HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/f/rst", 0);
                assertTrue(r.truncated, "reset: " + r.bodyLength);
                assertEquals(-1, r.firstMismatch);
            }
            // origin sends fewer bytes than Content-Length, then closes
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /f/short?size=4m&fault=short@2000000 HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/f/short", 0);
                assertTrue(r.truncated, "short: " + r.bodyLength);
            }
            // origin stalls: the idle timeout closes the client
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /f/stall?size=4m&fault=stall@1000000 HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/f/stall", 0);
                assertTrue(r.truncated, "stall: " + r.bodyLength);
                assertEquals(1_000_000, r.bodyLength);
            }
            // client aborts mid-download and mid-upload
            try (TestClient c = f.client()) {
                c.send("GET /f/abort?size=64m HTTP/1.1\r\nHost: t\r\n\r\n").readHeadOnly();
                c.socket.setSoLinger(true, 0);
            }
            try (TestClient c = f.client()) {
                c.send("PUT /f/up?size=8m HTTP/1.1\r\nHost: t\r\nContent-Length: 8388608\r\n\r\n").sendPayload("/f/up", 0, 3_000_000);
            }
            // everything still works afterwards
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /f/after?size=3m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/f/after", 0);
                assertEquals(3 << 20, r.bodyLength);
                assertEquals(-1, r.firstMismatch);
            }
            // pooled pipes are kept for reuse by design: two fds each, counted by the splice metrics
            int baseline = rawBaseline + 2 * (int) (pipesOpen(f) - pipesBefore);
            int after = settleFds(baseline);
            originPort = -1;
            if (after > baseline) {
                java.util.Map<String, String> now = fdTargets();
                now.entrySet().removeIf(e -> e.getValue().equals(before.get(e.getKey())));
                originPort = -1;
                org.junit.jupiter.api.Assertions.fail("fds leaked: baseline " + baseline + ", now " + after + "; new: " + now);
            }
        }
    }

    /**
     * A client that leaves (FIN or a full close) while the origin stalls mid-body ends the exchange within a second,
     * not at the idle timeout, in both modes: copied, Netty sees the FIN; spliced, the stalled transfer watches the
     * client socket. The origin connection is released with it (the exchange logs only after releasing it). Before
     * the watch, the spliced path held both connections and the pipe until the idle timeout.
     */
    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void clientLeavesWhileOriginStalls_exchangeEndsLongBeforeTheIdleTimeout(String mode) throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("sluice-gone", ".log");
        try (Fixture f = fixture(mode, "sluice.timeouts.idle = 30s\nsluice.access-log { enabled = true, target = \"" + log + "\" }")) {
            for (String how : new String[] {"fin", "close"}) {
                String path = "/gone-" + how;
                TestClient c = f.client();
                try {
                    assertEquals(200, c.send("GET " + path + "?size=64m&fault=stall@1000000 HTTP/1.1\r\nHost: t\r\n\r\n")
                            .readHeadOnly().status);
                    byte[] body = c.input().readNBytes(1_000_000);
                    assertEquals(1_000_000, body.length);
                    assertEquals(-1, dev.sluice.loadtest.Payload.firstMismatch(dev.sluice.loadtest.Payload.seed(path), 0, body, 0, body.length));
                    Thread.sleep(400); // the origin has stalled for a while
                    long t0 = System.nanoTime();
                    if (how.equals("fin")) {
                        c.socket.shutdownOutput();
                    } else {
                        c.close();
                    }
                    String line = Logs.awaitLine(log, path, 10_000);
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    assertTrue(line.contains("client closed the connection during the response"), mode + "/" + how + " after " + ms + " ms: " + line);
                    assertTrue(ms < 3_000, mode + "/" + how + ": ended after " + ms + " ms");
                    if (how.equals("fin")) {
                        assertEquals(-1, c.input().read(), "the proxy closed the half-closed client's connection");
                    }
                } finally {
                    c.close();
                }
            }
            double watches = Search.in(f.sluice.registry()).name("sluice.splice.hangup.watches").functionCounters().stream()
                    .mapToDouble(fc -> fc.count()).sum();
            assertEquals(mode.equals("splice") ? 2 : 0, watches, "stalled transfers that watched their client");
        } finally {
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    /**
     * A server that sends more than its response announced (here a second, unrequested response) must not get its
     * connection pooled: the surplus would be read as the answer to the next request sent on it. The second request
     * is pipelined behind the first, so it is sent at once, before a read on the idle connection could notice.
     * Before the check, the spliced path answered the second request with the smuggled response.
     */
    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void serverSendsMoreThanItsResponse_connectionNotReused_nextResponseIntact(String mode) throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("sluice-surplus", ".log");
        try (Fixture f = fixture(mode, "sluice.event-loops = 1\nsluice.access-log { enabled = true, target = \"" + log + "\" }");
                TestClient c = f.client()) {
            for (int round = 0; round < 3; round++) {
                String a = "/sur-a" + round;
                String b = "/sur-b" + round;
                c.send("GET " + a + "?size=300000&fault=surplus HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET " + b + "?size=300000 HTTP/1.1\r\nHost: t\r\n\r\n");
                TestClient.Response ra = c.read(false, a, 0);
                assertEquals(300000, ra.bodyLength, ra.toString());
                assertEquals(-1, ra.firstMismatch);
                TestClient.Response rb = c.read(false, b, 0);
                assertEquals(null, rb.header("X-Surplus"), "the second request got the smuggled response: " + rb);
                assertEquals(300000, rb.bodyLength, rb.toString());
                assertEquals(-1, rb.firstMismatch);
            }
            Logs.awaitLine(log, "/sur-a2", 2_000);
            String logged = java.nio.file.Files.readString(log);
            assertTrue(logged.lines().filter(l -> l.contains("/sur-a")).allMatch(l -> l.contains("upstream sent bytes after the response")),
                    logged);
        } finally {
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"splice", "copy"})
    void slowReader_boundedMemory_byteExact(String mode) throws Exception {
        try (Fixture f = fixture(mode, ""); TestClient c = f.client()) {
            long size = 64L << 20;
            long heapBefore = usedHeap();
            long directBefore = usedDirect();
            c.send("GET /slow?size=64m HTTP/1.1\r\nHost: t\r\n\r\n");
            TestClient.Response head = c.readHeadOnly();
            assertEquals(200, head.status);
            Thread.sleep(1500); // the client stops reading: the proxy must hold back, not buffer 64 MiB
            long heapGrown = usedHeap() - heapBefore;
            long directGrown = usedDirect() - directBefore;
            assertTrue(heapGrown < 24L << 20, "heap grew by " + heapGrown + " while the client did not read");
            assertTrue(directGrown < 8L << 20, "pooled direct memory grew by " + directGrown + " while the client did not read");
            InputStream in = c.input();
            byte[] buf = new byte[65536];
            long seed = dev.sluice.loadtest.Payload.seed("/slow");
            long off = 0;
            int n;
            int reads = 0;
            while (off < size && (n = in.read(buf, 0, (int) Math.min(buf.length, size - off))) > 0) {
                assertEquals(-1, dev.sluice.loadtest.Payload.firstMismatch(seed, off, buf, 0, n));
                off += n;
                if (++reads % 64 == 0) {
                    Thread.sleep(5); // keep reading slowly
                }
            }
            assertEquals(size, off);
        }
    }

    /** Bytes Netty's default pooled allocator holds in direct memory (what a copying proxy would buffer in). */
    private static long usedDirect() {
        return io.netty.buffer.PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
    }

    private static long usedHeap() {
        System.gc();
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    @org.junit.jupiter.api.Test
    void pipePoolExhausted_fallsBackToCopy_stillByteExact() throws Exception {
        // the stalled download is torn down once its client leaves (the transfer watches the client socket)
        try (Fixture f = fixture("splice", "sluice.splice.max-pipes = 1\nsluice.event-loops = 1\nsluice.timeouts.idle = 1500ms")) {
            // a stalled download holds the only pipe; the next transfer must copy
            TestClient holder = f.client();
            holder.send("GET /hold?size=64m&fault=stall@100000 HTTP/1.1\r\nHost: t\r\n\r\n").readHeadOnly();
            Await.until("the stalled download holds the pipe", () -> Await.pipesInUse(f) >= 1);
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("GET /px?size=2m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/px", 0);
                assertEquals(2 << 20, r.bodyLength);
                assertEquals(-1, r.firstMismatch);
            }
            double fallbacks = Search.in(f.sluice.registry()).name("sluice.splice.fallbacks").tag("reason", "pool_exhausted")
                    .functionCounters().stream().mapToDouble(fc -> fc.count()).sum();
            assertTrue(fallbacks >= 1, "pool exhaustion must be counted");
            assertTrue(bytes(f, "out", "copy", (2 << 20) - 65536) >= (2 << 20) - 65536, "the second download should have been copied");
            holder.close();
            // the stalled download must not hold its pipe and connection forever
            Await.until("the stalled download's connection torn down", () -> clientConnections(f) == 0);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Stopping Sluice while a splice waits for a stalled origin ends that exchange through its own teardown (the
     * splice cancelled, then the sockets closed) before the loops stop. Before, the loop stopped with the
     * cancellation pending, the connection was never closed on the proxy's side and its read buffer leaked.
     */
    @org.junit.jupiter.api.Test
    void close_withASpliceInFlight_endsTheExchangeFirst() throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile("sluice-stop", ".log");
        Fixture f = fixture("splice", "sluice.event-loops = 1\nsluice.access-log { enabled = true, target = \"" + log + "\" }");
        try (TestClient holder = f.client()) {
            holder.send("GET /stop?size=64m&fault=stall@100000 HTTP/1.1\r\nHost: t\r\n\r\n").readHeadOnly();
            Await.until("the download splicing", () -> Await.pipesInUse(f) >= 1);
            assertEquals(1, clientConnections(f));
            f.sluice.close();
            assertEquals(0, clientConnections(f), "the stalled download's connection was ended by its exchange");
            String logged = java.nio.file.Files.readString(log);
            assertTrue(logged.contains("/stop") && logged.contains("Sluice stopped"),
                    "the exchange was ended as stopped, not left to the loop's shutdown: " + logged);
        } finally {
            f.close(); // closing again is a no-op for Sluice; then the leak check
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    private static double clientConnections(Fixture f) {
        return Search.in(f.sluice.registry()).name("sluice.client.connections").gauge().value();
    }

    /** Splice fallbacks by reason, where any happened: what a failure message should show. */
    private static String fallbacks(Fixture f) {
        java.util.Map<String, Double> by = new java.util.TreeMap<>();
        for (var c : Search.in(f.sluice.registry()).name("sluice.splice.fallbacks").functionCounters()) {
            if (c.count() > 0) {
                by.merge(c.getId().getTag("reason"), c.count(), Double::sum);
            }
        }
        return by + ", copied body bytes out " + (long) bytes(f, "out", "copy");
    }

    private static double splicedBytes(Fixture f) {
        return Search.in(f.sluice.registry()).name("sluice.splice.bytes").functionCounters().stream()
                .mapToDouble(fc -> fc.count()).sum();
    }

    /**
     * Bytes read together with a head are copied, so heads must be read small even on a connection whose reads grew
     * large on a copied (chunked) body. Before head reads were kept small, 1 MiB responses over busy keep-alive
     * connections were read whole with their heads and three quarters of the bytes were copied.
     */
    @org.junit.jupiter.api.Test
    void headsAreReadSmall_soBodiesSplice_evenAfterCopiedBodies() throws Exception {
        int conns = 8;
        int rounds = 12;
        int size = 1 << 20;
        try (Fixture f = fixture("splice", "sluice.event-loops = 1")) {
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(conns);
            try {
                java.util.List<java.util.concurrent.Future<?>> all = new java.util.ArrayList<>();
                for (int t = 0; t < conns; t++) {
                    int id = t;
                    all.add(pool.submit(() -> {
                        try (TestClient c = f.client()) {
                            // copied: grows this connection's reads to their largest
                            String chunked = "/heads/" + id + "/chunked";
                            TestClient.Response r = c.send("GET " + chunked + "?size=4m&chunked=1 HTTP/1.1\r\nHost: t\r\n\r\n")
                                    .read(false, chunked, 0);
                            assertEquals(4 << 20, r.bodyLength);
                            assertEquals(-1, r.firstMismatch);
                            for (int i = 0; i < rounds; i++) {
                                String path = "/heads/" + id + "/" + i;
                                r = c.send("GET " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\n\r\n").read(false, path, 0);
                                assertEquals(size, r.bodyLength);
                                assertEquals(-1, r.firstMismatch, "wrong byte at " + r.firstMismatch);
                            }
                        }
                        return null;
                    }));
                }
                for (java.util.concurrent.Future<?> x : all) {
                    x.get(60, java.util.concurrent.TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            double counted = (double) conns * rounds * size;
            // each response may copy what came with its head (one head read of ReadSizes.HEAD bytes at most)
            double floor = counted - (double) conns * rounds * ReadSizes.HEAD;
            // The loop counts a drain right after splice(2) returns; the client may have read those bytes (and this
            // thread got here) before then: a loop preempted by the reader it woke counted a last 1 MiB drain late.
            double spliced = splicedBytes(f);
            for (int i = 0; i < 100 && spliced < floor; i++) {
                Thread.sleep(20);
                spliced = splicedBytes(f);
            }
            assertTrue(spliced >= floor, "spliced " + (long) spliced + " of " + (long) counted + " counted-length bytes; "
                    + "fallbacks " + fallbacks(f));
        }
    }
}
