package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.path;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import io.micrometer.core.instrument.search.Search;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fills: collapsed forwarding, fills that fail, clients that leave, eviction under sends, the memory budget. The
 * tests taking a {@code fill} run under both {@code cache.fill} modes, and check that the mode's path stored the
 * bytes and that every pipe went back.
 */
class CacheFillTest {
    static Fixture fixture(String extra) throws Exception {
        return new Fixture(Fixture.simple(CacheTest.CACHED + extra), "o1");
    }

    static Fixture fixture(String fill, String extra) throws Exception {
        return fixture("sluice.cache.fill = " + fill + "\n" + extra);
    }

    static double pipesInUse(Fixture f) {
        return Search.in(f.sluice.registry()).name("sluice.splice.pipes.in.use").gauges().stream()
                .mapToDouble(g -> g.value()).sum();
    }

    /**
     * The bytes of the fills went the mode's way (tee: some spliced in by a tee, and with {@code leaderRead} some
     * teed to the leader's client too; receive: none), and no pipe is held once the fills are over.
     */
    static void assertFillPath(Fixture f, String fill, boolean leaderRead) throws InterruptedException {
        double teed = metric(f, "sluice_cache_fill_bytes_total{path=\"tee\"}");
        double teedToClient = metric(f, "sluice_cache_sent_bytes_total{mechanism=\"tee\"}");
        if (fill.equals("tee")) {
            assertTrue(teed > 0, "no byte went by the tee");
            assertTrue(!leaderRead || teedToClient > 0, "no byte teed to a client");
        } else {
            assertEquals(0.0, teed + teedToClient);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (pipesInUse(f) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0.0, pipesInUse(f), "pipes still held after the fills ended");
    }

    /** A miss stored by either fill mode, then a hit: the same verified bytes, one origin request. */
    @ParameterizedTest
    @CsvSource({"receive, 1k", "receive, 1m", "receive, 8m", "tee, 1k", "tee, 1m", "tee, 8m"})
    void missThenHit(String fill, String size) throws Exception {
        try (Fixture f = fixture(fill, "")) {
            String target = "/objects/mh.bin?size=" + size + "&cc=max-age%3D60";
            TestClient.Response miss = get(f, target); // bytes verified by get
            assertTrue(status(miss).contains("stored"), status(miss));
            TestClient.Response hit = get(f, target);
            assertTrue(status(hit).contains("hit"), status(hit));
            assertEquals(miss.bodyLength, hit.bodyLength);
            assertEquals(1, f.upstreamRequests());
            assertEquals(1.0, metric(f, "sluice_cache_fills_total{outcome=\"completed\"}"));
            double stored = metric(f, "sluice_cache_fill_bytes_total{path=\"tee\"}")
                    + metric(f, "sluice_cache_fill_bytes_total{path=\"receive\"}")
                    + metric(f, "sluice_cache_fill_bytes_total{path=\"copy\"}");
            assertEquals(miss.bodyLength, stored, "every byte counted by the path it took, once");
            if (miss.bodyLength > 64 << 10) {
                assertFillPath(f, fill, true);
            } else { // it came with the head: nothing left to tee
                assertEquals(miss.bodyLength, metric(f, "sluice_cache_fill_bytes_total{path=\"copy\"}"));
            }
        }
    }

    /** tee where this loop cannot splice (NIO transport): the fill receives, visibly. */
    @Test
    void teeFallsBackToReceiveVisibly() throws Exception {
        try (Fixture f = fixture("tee", "sluice.transport = nio\n")) {
            String target = "/objects/nio.bin?size=1m&cc=max-age%3D60";
            get(f, target);
            assertTrue(status(get(f, target)).contains("hit"));
            assertEquals(1.0, metric(f, "sluice_cache_fill_fallbacks_total{reason=\"unavailable\"}"));
            assertEquals(0.0, metric(f, "sluice_cache_fill_bytes_total{path=\"tee\"}"));
            assertTrue(metric(f, "sluice_cache_fill_bytes_total{path=\"receive\"}") > 0);
        }
    }

    static double metric(Fixture f, String nameAndLabels) {
        for (String l : f.sluice.registry().scrape().split("\n")) {
            if (l.startsWith(nameAndLabels + " ")) {
                return Double.parseDouble(l.substring(nameAndLabels.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    @ParameterizedTest
    @ValueSource(strings = {"receive", "tee"})
    void hundredConcurrentMissesMakeOneOriginRequest(String fill) throws Exception {
        try (Fixture f = fixture(fill, ""); ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            String target = "/objects/c.bin?size=1m&cc=max-age%3D60&delay=400";
            List<Future<TestClient.Response>> all = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                all.add(pool.submit(() -> get(f, target)));
            }
            int collapsed = 0;
            for (Future<TestClient.Response> r : all) {
                TestClient.Response resp = r.get(30, TimeUnit.SECONDS); // bytes verified by get
                assertEquals(200, resp.status);
                assertEquals(1 << 20, resp.bodyLength);
                collapsed += status(resp).contains("collapsed") ? 1 : 0;
            }
            assertEquals(1, f.upstreamRequests());
            assertEquals(99, collapsed);
            assertEquals(99, metric(f, "sluice_cache_lookups_total{result=\"coalesced\",route=\"objects\"}"));
            assertFillPath(f, fill, true);
        }
    }

    /** A waiter whose Vary fields differ from the fill's response goes upstream for its own variant. */
    @Test
    void aWaiterOfAnotherVariantGoesUpstreamAlone() throws Exception {
        try (Fixture f = fixture(""); TestClient gzip = f.client(); TestClient br = f.client()) {
            String target = "/objects/vc.bin?size=300k&cc=max-age%3D60&vary=Accept-Encoding&delay=300";
            gzip.send("GET " + target + " HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n");
            Thread.sleep(50);
            br.send("GET " + target + " HTTP/1.1\r\nHost: test\r\nAccept-Encoding: br\r\n\r\n");
            TestClient.Response first = gzip.read(false, path(target), 0);
            TestClient.Response second = br.read(false, path(target), 0);
            assertEquals(-1, first.firstMismatch);
            assertEquals(-1, second.firstMismatch);
            assertTrue(status(first).contains("stored"), status(first));
            assertTrue(!status(second).contains("collapsed") && status(second).contains("fwd-status=200"), status(second));
            assertEquals(2, f.upstreamRequests());
            assertTrue(status(get(f, target, "Accept-Encoding: br")).contains("hit"), "its own variant was stored too");
            assertTrue(status(get(f, target, "Accept-Encoding: gzip")).contains("hit"));
        }
    }

    /** Waiters are sent the body as it arrives, not once the fill is complete. */
    @Test
    void waitersStreamWhileTheFillGrows() throws Exception {
        try (Fixture f = fixture(""); TestClient leader = f.client(); TestClient waiter = f.client()) {
            String target = "/objects/slow.bin?size=2m&cc=max-age%3D60&delay=200&rate=1m";
            leader.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
            Thread.sleep(50);
            long start = System.nanoTime();
            waiter.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
            TestClient.Response head = waiter.readHeadOnly();
            assertTrue(status(head).contains("collapsed"), status(head));
            byte[] first = waiter.input().readNBytes(256 << 10);
            double firstMillis = (System.nanoTime() - start) / 1e6;
            assertEquals(256 << 10, first.length);
            assertTrue(firstMillis < 1200, "the first 256 KiB came after " + firstMillis + " ms of a ~2.2 s fill");
            waiter.input().readNBytes((2 << 20) - (256 << 10));
            assertEquals(200, leader.read(false, path(target), 0).status);
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"receive", "tee"})
    void theLeaderLeavingDoesNotCutOffTheWaiters(String fill) throws Exception {
        try (Fixture f = fixture(fill, "sluice.cache.fill-on-abort-max = 1KiB\n"); TestClient waiter = f.client()) {
            String target = "/objects/left.bin?size=2m&cc=max-age%3D60&delay=200&rate=4m";
            try (TestClient leader = f.client()) {
                leader.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
                Thread.sleep(50);
                waiter.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
                leader.readHeadOnly();
            } // the leader leaves with most of the body to come
            TestClient.Response r = waiter.read(false, path(target), 0);
            assertEquals(-1, r.firstMismatch);
            assertEquals(2 << 20, r.bodyLength);
            assertTrue(status(get(f, target)).contains("hit"), "the fill completed for the waiter");
            assertEquals(1, f.upstreamRequests());
            assertFillPath(f, fill, false);
        }
    }

    @ParameterizedTest
    @CsvSource({"true, receive", "false, receive", "true, tee", "false, tee"})
    void aLoneLeaderLeavingEndsTheFillOnlyAboveFillOnAbortMax(boolean small, String fill) throws Exception {
        try (Fixture f = fixture(fill, "sluice.cache.fill-on-abort-max = 1MiB\n")) {
            String target = "/objects/alone.bin?size=" + (small ? "512k" : "3m") + "&cc=max-age%3D60&rate=2m";
            try (TestClient leader = f.client()) {
                leader.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
                leader.readHeadOnly();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String outcome = small ? "completed" : "aborted";
            while (metric(f, "sluice_cache_fills_total{outcome=\"" + outcome + "\"}") < 1 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1.0, metric(f, "sluice_cache_fills_total{outcome=\"" + outcome + "\"}"));
            TestClient.Response next = get(f, target);
            assertTrue(status(next).contains(small ? "hit" : "uri-miss"), status(next));
            assertEquals(small ? 1 : 2, f.upstreamRequests());
            assertFillPath(f, fill, false);
        }
    }

    /** A fill whose upstream fails is discarded: the clients are cut off and the next request refetches. */
    @ParameterizedTest
    @CsvSource({"fault=reset@300000, receive", "fault=short@300000, receive", "fault=stall@300000, receive",
            "fault=reset@300000, tee", "fault=short@300000, tee", "fault=stall@300000, tee"})
    void aFailedFillIsNeverServed(String fault, String fill) throws Exception {
        try (Fixture f = fixture(fill, "sluice.timeouts.idle = 1s\n")) {
            get(f, "/objects/warm.bin?size=1k&cc=max-age%3D60"); // the loops' pipes and splicers exist
            int fdsBefore = ZeroCopyTest.openFds();
            String target = "/objects/f.bin?size=1m&cc=max-age%3D60&" + fault;
            List<TestClient> clients = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                clients.add(f.client().send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n"));
            }
            for (TestClient c : clients) {
                try {
                    TestClient.Response r = c.read(false, path(target), 0);
                    assertTrue(r.truncated, "cut off, not complete: " + r);
                    assertEquals(-1, r.firstMismatch);
                } catch (IOException cutOff) {
                    // reset: as cut off as it gets
                }
                c.close();
            }
            String clean = target.replace(fault, "ok=1");
            assertTrue(status(get(f, clean)).contains("uri-miss"));
            // one fill, or more when a client came after the first had already failed (a short body fails fast)
            double aborted = metric(f, "sluice_cache_fills_total{outcome=\"aborted\"}");
            assertTrue(aborted >= 1 && aborted == metric(f, "sluice_cache_fills_total{outcome=\"started\"}") - 2, "" + aborted);
            assertTrue(f.upstreamRequests() >= 3);
            assertFillPath(f, fill, false);
            // pooled pipes (two per tee) and pooled upstream connections may stay open; nothing else
            int slack = 4 * (int) Search.in(f.sluice.registry()).name("sluice.splice.pipes.open").gauges().stream()
                    .mapToDouble(g -> g.value()).sum() + 8;
            int fds = ZeroCopyTest.settleFds(fdsBefore + slack);
            assertTrue(fds <= fdsBefore + slack, "fds " + fdsBefore + " -> " + fds + ": " + ZeroCopyTest.fdTargets());
        }
    }

    /** An uncacheable response releases its waiters at once, and its key is not collapsed for a while. */
    @Test
    void uncacheableKeysDoNotSerialiseTheirClients() throws Exception {
        try (Fixture f = fixture(""); ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            String target = "/objects/p.bin?size=1k&cc=private&delay=400";
            for (int round = 0; round < 2; round++) {
                long start = System.nanoTime();
                List<Future<TestClient.Response>> all = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    all.add(pool.submit(() -> get(f, target)));
                }
                for (Future<TestClient.Response> r : all) {
                    assertEquals(200, r.get(30, TimeUnit.SECONDS).status);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                assertTrue(seconds < 2.0, "10 clients of an uncacheable URL took " + seconds + " s");
            }
            assertEquals(20, f.upstreamRequests());
        }
    }

    /** Eviction and reuse of a body's memory while a slow client is still being sent it: 0 wrong bytes. */
    @ParameterizedTest
    @ValueSource(strings = {"write", "sendfile", "splice", "send-zc"})
    void evictionUnderASlowReader(String send) throws Exception {
        try (Fixture f = fixture("sluice.event-loops = 1\nsluice.cache { memory = 4MiB, send = " + send + " }\n");
             TestClient slow = f.client()) {
            String target = "/objects/slowread.bin?size=1m&cc=max-age%3D60";
            get(f, target);
            slow.socket.setReceiveBufferSize(16 << 10);
            slow.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
            TestClient.Response head = slow.readHeadOnly();
            assertTrue(status(head).contains("hit"));
            byte[] part = slow.input().readNBytes(32 << 10);
            for (int i = 0; i < 12; i++) { // 12 MiB through a 4 MiB cache: the slow reader's body is evicted
                get(f, "/objects/churn" + i + ".bin?size=1m&cc=max-age%3D60");
            }
            assertTrue(metric(f, "sluice_cache_evictions_total") > 0);
            byte[] rest = slow.input().readNBytes((1 << 20) - part.length);
            byte[] all = new byte[1 << 20];
            System.arraycopy(part, 0, all, 0, part.length);
            System.arraycopy(rest, 0, all, part.length, rest.length);
            byte[] expected = new byte[1 << 20];
            dev.sluice.loadtest.Payload.fill(dev.sluice.loadtest.Payload.seed(path(target)), 0, expected, 0, expected.length);
            assertEquals(-1, java.util.Arrays.mismatch(expected, all), "the slow reader got the old bytes, all of them");
        }
    }

    /** 1 MiB of cache and 10,000 distinct objects: every response right, and the budget never exceeded. */
    @Test
    void aOneMiBBudgetUnderTenThousandObjects() throws Exception {
        try (Fixture f = fixture("sluice.cache.memory = 1MiB\n"); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<Double>> all = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                all.add(pool.submit(() -> {
                    double maxUsed = 0;
                    try (TestClient c = f.client()) {
                        for (int i = 0; i < 2500; i++) {
                            int size = 1 + (i * 7919) % 20000;
                            TestClient.Response r = get(c, "/objects/b" + thread + "-" + i + ".bin?size=" + size
                                    + "&cc=max-age%3D600");
                            assertEquals(200, r.status);
                            if (i % 100 == 0) {
                                maxUsed = Math.max(maxUsed, metric(f, "sluice_cache_memory_bytes{kind=\"used\"}"));
                            }
                        }
                    }
                    return maxUsed;
                }));
            }
            for (Future<Double> r : all) {
                assertTrue(r.get(120, TimeUnit.SECONDS) <= 1 << 20, "used more than the budget");
            }
            assertTrue(metric(f, "sluice_cache_memory_bytes{kind=\"stores\"}") <= 1 << 20);
            assertTrue(metric(f, "sluice_cache_evictions_total") > 1000);
            assertEquals(10_000, f.upstreamRequests());
        }
    }
}
