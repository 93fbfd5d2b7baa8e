package dev.sluice.proxy;

import static dev.sluice.proxy.AdminCacheApiTest.admin;
import static dev.sluice.proxy.WarmJobTest.await;
import static dev.sluice.proxy.WarmJobTest.keys;
import static dev.sluice.proxy.WarmJobTest.n;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Warm lists streamed over a raw socket: the job starts before the body ends and the body is read only as fast as
 * keys are fetched (bounded memory: the upload blocks); max-bytes and rate; background jobs yield to clients.
 */
class WarmStreamTest {
    /** A warm request's head with a body of {@code length} bytes. */
    static byte[] head(Fixture f, String query, long length) {
        return ("POST /cache/warm" + query + " HTTP/1.1\r\nHost: admin\r\nContent-Length: " + length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    }

    static Socket adminSocket(Fixture f) throws Exception {
        Socket s = new Socket("127.0.0.1", f.sluice.adminAddress().getPort());
        s.setSoTimeout(30_000);
        return s;
    }

    /** The JSON body of a response read to its end. */
    static Map<String, Object> reply(Socket s) throws Exception {
        String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(all.startsWith("HTTP/1.1 202"), all);
        return JSON.std.mapFrom(all.substring(all.indexOf("\r\n\r\n") + 4));
    }

    static String line(int i, String suffix) {
        // ~120 bytes a key: 100k of them are 12 MB, far more than the socket buffers hold
        return String.format("/objects/s%06d-%s.bin?%s\n", i, "p".repeat(80), suffix);
    }

    @Test
    void aStreamedListOf100kKeys_isReadOnlyAsFastAsItIsFetched_andCancelEndsIt() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture(""); Socket s = adminSocket(f)) {
            int keys = 100_000;
            // long lines (~0.5 KiB): the ~10 MiB loopback's socket buffers take in are well under half of the list
            String params = "size=1k&cc=max-age%3D600&delay=50&pad=" + "x".repeat(400);
            long length = 0;
            for (int i = 0; i < keys; i++) {
                length += line(i, params).length();
            }
            OutputStream out = s.getOutputStream();
            out.write(head(f, "?host=test&concurrency=1&priority=normal", length));
            AtomicLong written = new AtomicLong();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    StringBuilder b = new StringBuilder();
                    for (int i = 0; i < keys; i++) {
                        b.append(line(i, params));
                        if (b.length() > 16 * 1024 || i == keys - 1) {
                            out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
                            written.addAndGet(b.length());
                            b.setLength(0);
                        }
                    }
                    out.flush();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(2000);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> jobs = (List<Map<String, Object>>) admin(f, "GET", "/jobs", null).json().get("jobs");
            assertEquals(1, jobs.size());
            Map<String, Object> job = jobs.get(0);
            assertFalse(writer.isDone(), "the upload is held back while its keys wait: " + written.get());
            assertEquals("running", job.get("state"));
            assertFalse((Boolean) job.get("listing-complete"));
            long listed = n(keys(job), "listed");
            assertTrue(listed > 5 && listed < 5_000, "listed " + listed + " of " + keys + " (the job started before"
                    + " the body ended, and read only what its queue and buffer hold)");
            assertTrue(written.get() < length / 2, "written " + written.get() + " of " + length);

            assertEquals(200, admin(f, "DELETE", "/jobs/" + job.get("id"), null).status());
            writer.get(); // the rest of the body is read and dropped
            Map<String, Object> done = reply(s);
            assertEquals("cancelled", done.get("state"), done.toString());
            assertTrue(n(keys(done), "listed") < 5_000, done.toString());
        }
    }

    @Test
    void aClientThatLeavesMidList_leavesTheJobRunning_andTheKeysItSentAreWarmed() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("")) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 5; i++) {
                b.append("/objects/gone").append(i).append("?size=1k&cc=max-age%3D600&delay=300\n");
            }
            try (Socket s = adminSocket(f)) {
                OutputStream out = s.getOutputStream();
                out.write(head(f, "?host=test&priority=normal", 1_000_000)); // promises far more than it sends
                out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                Thread.sleep(200);
            }
            Map<String, Object> job = await(f, "1");
            assertEquals("failed", job.get("state"), job.toString());
            assertTrue(((String) job.get("error")).contains("cut short"), job.toString());
            assertEquals(5, n(keys(job), "cached"), job.toString());
            assertEquals(5, f.upstreamRequests());
        }
    }

    @Test
    void aListReadSlowerThanTheIdleTimeout_keepsItsConnection_andIsAnswered() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("sluice.timeouts.idle = 1s\nsluice.timeouts.request-head = 1s\n")) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 320; i++) {
                b.append("/objects/idle").append(i).append("?size=1k&cc=max-age%3D600&delay=40\n");
            }
            AdminCacheApiTest.Reply r = admin(f, "POST", "/cache/warm?host=test&concurrency=1&priority=normal",
                    b.toString());
            // the last keys waited for room in the job's queue for over 2 s, the connection idle all along
            assertEquals(202, r.status(), r.body());
            assertTrue(n(keys(r.json()), "done") > 25, r.body());
            assertEquals(200, admin(f, "DELETE", "/jobs/" + r.json().get("id"), null).status());
        }
    }

    @Test
    void aClientThatStallsMidList_isClosedAsIdle_andItsJobFails() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("sluice.timeouts.idle = 1s\nsluice.timeouts.request-head = 1s\n");
                Socket s = adminSocket(f)) {
            OutputStream out = s.getOutputStream();
            out.write(head(f, "?host=test", 1000));
            out.write("/objects/stall?size=1k&cc=max-age%3D600\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            long t0 = System.nanoTime();
            assertEquals(-1, s.getInputStream().read(), "closed without a reply");
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
            Map<String, Object> job = await(f, "1");
            assertEquals("failed", job.get("state"), job.toString());
            assertEquals(1, n(keys(job), "cached"), job.toString());
        }
    }

    @Test
    void backgroundJobs_shareMaxInFlight_andNormalOnesDoNot() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("sluice.cache.warm.max-in-flight = 1\n")) {
            String[] ids = new String[2];
            long t0 = System.nanoTime();
            for (int j = 0; j < 2; j++) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < 3; i++) {
                    b.append("/objects/cap").append(j).append('-').append(i).append("?size=1k&cc=max-age%3D600&delay=300\n");
                }
                ids[j] = (String) admin(f, "POST", "/cache/warm?host=test&concurrency=4", b.toString()).json().get("id");
            }
            for (String id : ids) {
                assertEquals(3, n(keys(await(f, id)), "cached"));
            }
            double serial = (System.nanoTime() - t0) / 1e9;
            assertTrue(serial >= 1.7, "6 fetches of 0.3 s one at a time: " + serial + " s");

            t0 = System.nanoTime();
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 6; i++) {
                b.append("/objects/free").append(i).append("?size=1k&cc=max-age%3D600&delay=300\n");
            }
            String id = (String) admin(f, "POST", "/cache/warm?host=test&concurrency=6&priority=normal", b.toString())
                    .json().get("id");
            assertEquals(6, n(keys(await(f, id)), "cached"));
            double parallel = (System.nanoTime() - t0) / 1e9;
            assertTrue(parallel < 1.2, "normal priority is not capped: " + parallel + " s");
        }
    }

    @Test
    void maxBytes_stopsTheJob_andTheRestOfTheListIsDropped() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture(""); Socket s = adminSocket(f)) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 100_000; i++) {
                b.append("/objects/m").append(i).append("?size=1k&cc=max-age%3D600\n");
            }
            byte[] body = b.toString().getBytes(StandardCharsets.ISO_8859_1);
            OutputStream out = s.getOutputStream();
            out.write(head(f, "?host=test&max-bytes=10k&concurrency=2", body.length));
            out.write(body);
            out.flush();
            Map<String, Object> job = reply(s);
            job = await(f, (String) job.get("id"));
            assertEquals("done", job.get("state"));
            assertTrue(((String) job.get("stopped")).startsWith("max-bytes reached"), job.toString());
            long cached = n(keys(job), "cached");
            assertTrue(cached >= 10 && cached <= 12, job.toString());
            assertTrue(f.upstreamRequests() <= 12, "fetched " + f.upstreamRequests());
        }
    }

    @Test
    void rate_capsTheBytesStoredPerSecond() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("")) {
            long t0 = System.nanoTime();
            StringBuilder list = new StringBuilder();
            for (int i = 0; i < 10; i++) {
                list.append("/objects/r").append(i).append("?size=32k&cc=max-age%3D600\n");
            }
            AdminCacheApiTest.Reply r = admin(f, "POST", "/cache/warm?host=test&rate=64k&concurrency=2",
                    list.toString());
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(10, n(keys(job), "cached"), job.toString());
            // a second's burst, then 64 KiB a second: 320 KiB take about 4 s; without the cap, milliseconds
            assertTrue(seconds > 2.8 && seconds < 8, "took " + seconds + " s");
        }
    }

    @Test
    void aBackgroundJob_pausesWhileAClientWaitsForUpstream() throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("")) {
            CompletableFuture<Long> client = CompletableFuture.supplyAsync(() -> {
                try (TestClient c = f.client()) {
                    c.send("GET /other?delay=1500 HTTP/1.1\r\nHost: test\r\n\r\n").read();
                    return System.nanoTime();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(300);
            AdminCacheApiTest.Reply r = admin(f, "POST", "/cache/warm?host=test", "/objects/bg?size=1k&cc=max-age%3D600");
            assertEquals(202, r.status(), r.body());
            assertTrue((Boolean) admin(f, "GET", "/jobs/" + r.json().get("id"), null).json().get("paused"));
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            assertEquals(1, n(keys(job), "cached"));
            long clientDone = client.get();
            assertTrue(clientDone <= System.nanoTime());
            assertTrue(((Number) job.get("elapsed-seconds")).doubleValue() >= 0.9, "waited for the client: " + job);
        }
    }
}
