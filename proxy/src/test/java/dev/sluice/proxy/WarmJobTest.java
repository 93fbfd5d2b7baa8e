package dev.sluice.proxy;

import static dev.sluice.proxy.AdminCacheApiTest.admin;
import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Warm jobs (POST /cache/warm, GET /jobs, DELETE /jobs/ID) through a real Sluice with the loadtest origin behind it
 * and real sockets: keys warmed are hits afterwards with verified bodies, one origin fetch per key, collapsed with a
 * concurrent client's miss; failures listed with reasons; cancel; the job limit.
 */
class WarmJobTest {
    static Fixture fixture(String extra) throws Exception {
        return AdminCacheApiTest.fixture(extra);
    }

    /** Creates a job; its reply. */
    static AdminCacheApiTest.Reply warm(Fixture f, String query, String body) throws Exception {
        return admin(f, "POST", "/cache/warm" + query, body);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> keys(Map<String, Object> job) {
        return (Map<String, Object>) job.get("keys");
    }

    static long n(Map<String, Object> m, String field) {
        return ((Number) m.get(field)).longValue();
    }

    /** Polls the job until it finished; its last view. */
    static Map<String, Object> await(Fixture f, String id) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            AdminCacheApiTest.Reply r = admin(f, "GET", "/jobs/" + id, null);
            assertEquals(200, r.status(), r.body());
            if (r.json().get("finished") != null) {
                return r.json();
            }
            assertTrue(System.nanoTime() < deadline, "job not finished: " + r.body());
            Thread.sleep(20);
        }
    }

    static String target(int i) {
        return "/objects/w" + i + ".bin?size=" + (10 + i) + "k&cc=max-age%3D600";
    }

    @Test
    void aListOfPathsAndUrls_isStored_thenEveryKeyIsAVerifiedHit_andAgainIsSkipped() throws Exception {
        try (Fixture f = fixture("")) {
            StringBuilder list = new StringBuilder("# paths take the job's host; a URL names its own\n");
            for (int i = 0; i < 20; i++) {
                list.append(i % 2 == 0 ? target(i) : "http://test" + target(i)).append('\n');
            }
            AdminCacheApiTest.Reply r = warm(f, "?host=test&concurrency=3", list.toString());
            assertEquals(202, r.status(), r.body());
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            assertEquals("done", job.get("state"), job.toString());
            assertEquals(20, n(keys(job), "listed"));
            assertEquals(20, n(keys(job), "cached"), job.toString());
            assertEquals(0, n(keys(job), "failed"));
            long bytes = 0;
            for (int i = 0; i < 20; i++) {
                bytes += (10 + i) * 1024L;
            }
            assertEquals(bytes, n(job, "bytes"));
            assertEquals(20, f.upstreamRequests(), "one origin fetch per key");
            for (int i = 0; i < 20; i++) {
                TestClient.Response hit = get(f, target(i)); // body verified byte by byte
                assertTrue(status(hit).startsWith("sluice; hit"), status(hit));
                assertEquals((10 + i) * 1024, hit.bodyLength);
            }
            assertEquals(20, f.upstreamRequests());

            // a JSON array this time: everything is fresh already
            StringBuilder array = new StringBuilder("[");
            for (int i = 0; i < 20; i++) {
                array.append(i == 0 ? "" : ",").append('"').append("http://test").append(target(i)).append('"');
            }
            r = warm(f, "", array.append(']').toString());
            assertEquals(202, r.status(), r.body());
            job = await(f, (String) r.json().get("id"));
            assertEquals(20, n(keys(job), "skipped"), job.toString());
            assertEquals(0, n(job, "bytes"));
            assertEquals(20, f.upstreamRequests());

            // revalidate: conditional requests for what is cached (the origin answers them: 20 more requests)
            r = warm(f, "?revalidate=true&host=test", "\"" + target(0) + "\"\n\"" + target(1) + "\"\n");
            job = await(f, (String) r.json().get("id"));
            assertEquals(2, n(keys(job), "skipped") + n(keys(job), "cached"), job.toString());
            assertEquals(22, f.upstreamRequests());
        }
    }

    @Test
    void aWarmFetchAndAConcurrentClientMiss_shareOneOriginFetch() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/slow.bin?size=1m&cc=max-age%3D600&delay=800";
            CompletableFuture<TestClient.Response> client = CompletableFuture.supplyAsync(() -> {
                try {
                    return get(f, target);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(200); // the client's miss leads the fill
            AdminCacheApiTest.Reply r = warm(f, "?host=test&priority=normal", target);
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            assertEquals(1, n(keys(job), "cached"), job.toString());
            assertEquals(1 << 20, client.get().bodyLength);
            assertEquals(1, f.upstreamRequests(), "the warm fetch collapsed onto the client's miss");
            assertTrue(status(get(f, target)).startsWith("sluice; hit"));
        }
    }

    @Test
    void keysTheOriginFails_areListedWithReasons_andTheRestAreCached() throws Exception {
        try (Fixture f = fixture("")) {
            String list = String.join("\n", target(1), "/objects/reset.bin?size=100k&cc=max-age%3D600&fault=reset@10k",
                    target(2), "/objects/private.bin?size=1k&cc=private", target(3), "http://nowhere/objects/x",
                    "not a url");
            AdminCacheApiTest.Reply r = warm(f, "?host=test", list);
            assertEquals(202, r.status(), r.body());
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            assertEquals("done", job.get("state"));
            assertEquals(7, n(keys(job), "listed"));
            assertEquals(3, n(keys(job), "cached"), job.toString());
            assertEquals(4, n(keys(job), "failed"), job.toString());
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> errors = (List<Map<String, Object>>) job.get("errors");
            String all = errors.toString();
            assertTrue(all.contains("reset.bin") && all.contains("HTTP 502"), all);
            assertTrue(all.contains("private.bin") && all.contains("detail=private"), all);
            assertTrue(all.contains("http://nowhere/objects/x") && all.contains("no route"), all);
            assertTrue(all.contains("not a url") && all.contains("neither a URL"), all);
            for (int i = 1; i <= 3; i++) {
                assertTrue(status(get(f, target(i))).startsWith("sluice; hit"));
            }
            // the same, added up over jobs in the metrics
            assertEquals(3.0, CacheFillTest.metric(f, "sluice_warm_keys_total{outcome=\"cached\"}"));
            assertEquals(4.0, CacheFillTest.metric(f, "sluice_warm_keys_total{outcome=\"failed\"}"));
            assertEquals(0.0, CacheFillTest.metric(f, "sluice_warm_keys_total{outcome=\"skipped\"}"));
            assertEquals(((Number) job.get("bytes")).doubleValue(), CacheFillTest.metric(f, "sluice_warm_bytes_total"));
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_warm_jobs_ended_total{state=\"done\"}"));
            assertEquals(0.0, CacheFillTest.metric(f, "sluice_warm_jobs{state=\"running\"}"));
            assertEquals(0.0, CacheFillTest.metric(f, "sluice_warm_fetches_in_flight"));
        }
    }

    @Test
    void cancel_endsTheJobAndClosesItsFetches() throws Exception {
        try (Fixture f = fixture("")) {
            StringBuilder list = new StringBuilder();
            for (int i = 0; i < 50; i++) {
                list.append("/objects/c").append(i).append(".bin?size=1k&cc=max-age%3D600&delay=3000\n");
            }
            AdminCacheApiTest.Reply r = warm(f, "?host=test&concurrency=2", list.toString());
            String id = (String) r.json().get("id");
            Thread.sleep(300);
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_warm_jobs{state=\"running\"}"));
            assertEquals(2.0, CacheFillTest.metric(f, "sluice_warm_fetches_in_flight"), "the job's concurrency");
            long t0 = System.nanoTime();
            AdminCacheApiTest.Reply d = admin(f, "DELETE", "/jobs/" + id, null);
            assertEquals(200, d.status(), d.body());
            Map<String, Object> job = await(f, id);
            assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "cancel waited for the fetches in flight");
            assertEquals("cancelled", job.get("state"));
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_warm_jobs_ended_total{state=\"cancelled\"}"));
            assertEquals(0, n(keys(job), "cached"));
            assertTrue(n(keys(job), "not-fetched") >= 48, job.toString());
            assertTrue(f.upstreamRequests() <= 2, "only the two in flight reached the origin: " + f.upstreamRequests());
            assertEquals(404, admin(f, "GET", "/jobs/nope", null).status());
        }
    }

    @Test
    void aHundredConcurrentCreations_pastTheLimit_get429() throws Exception {
        try (Fixture f = fixture("sluice.cache.warm.max-jobs = 4\n")) {
            List<CompletableFuture<AdminCacheApiTest.Reply>> all = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                String key = "/objects/j" + i + ".bin?size=1k&cc=max-age%3D600&delay=3000";
                all.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return warm(f, "?host=test&priority=normal", key);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            int accepted = 0;
            int refused = 0;
            for (var c : all) {
                AdminCacheApiTest.Reply r = c.get();
                if (r.status() == 202) {
                    accepted++;
                } else {
                    assertEquals(429, r.status(), r.body());
                    assertEquals(429, ((Number) r.json().get("status")).intValue());
                    assertTrue(((String) r.json().get("error")).contains("max-jobs"), r.body());
                    refused++;
                }
            }
            assertEquals(4, accepted);
            assertEquals(96, refused);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> jobs = (List<Map<String, Object>>) admin(f, "GET", "/jobs", null).json().get("jobs");
            assertEquals(4, jobs.size());
            for (Map<String, Object> j : jobs) {
                assertEquals(200, admin(f, "DELETE", "/jobs/" + j.get("id"), null).status());
            }
        }
    }

    /**
     * Background jobs take the CPU clients leave idle: with cache.warm.max-cpu-percent = 0 (any use is too much) a
     * background job waits and says why, while a normal-priority job runs; the waiting job is cancelled untouched.
     */
    @Test
    void backgroundJobs_waitForTheCpu_normalOnesDoNot() throws Exception {
        try (Fixture f = fixture("sluice.cache.warm.max-cpu-percent = 0\n")) {
            String background = (String) warm(f, "?host=test", target(1)).json().get("id");
            Map<String, Object> normal = await(f, (String) warm(f, "?host=test&priority=normal", target(2)).json()
                    .get("id"));
            assertEquals("done", normal.get("state"), normal.toString());
            assertEquals(1, n(keys(normal), "cached"), normal.toString());
            Thread.sleep(500); // the job's fetcher asked the CPU load at least twice (every 200 ms)
            Map<String, Object> waiting = admin(f, "GET", "/jobs/" + background, null).json();
            assertEquals("running", waiting.get("state"), waiting.toString());
            assertEquals(0, n(keys(waiting), "done"), waiting.toString());
            assertEquals(Boolean.TRUE, waiting.get("paused"), waiting.toString());
            assertTrue(String.valueOf(waiting.get("paused-for")).matches("CPU at \\d+% \\(cache.warm.max-cpu-percent = 0\\)"),
                    waiting.toString());
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_warm_jobs{state=\"paused\"}"));
            assertEquals(200, admin(f, "DELETE", "/jobs/" + background, null).status());
            assertEquals("cancelled", await(f, background).get("state"));
            assertEquals(1, f.upstreamRequests(), "only the normal job's key reached the origin");
        }
    }

    @Test
    void finishedJobs_areKeptForKeepFinished_thenForgotten() throws Exception {
        try (Fixture f = fixture("sluice.cache.warm.keep-finished = 1s\n")) {
            AdminCacheApiTest.Reply r = warm(f, "?host=test", target(1));
            Map<String, Object> job = await(f, (String) r.json().get("id"));
            assertEquals("done", job.get("state"));
            assertEquals(200, admin(f, "GET", "/jobs/1", null).status(), "kept with its summary");
            Thread.sleep(1200);
            AdminCacheApiTest.Reply gone = admin(f, "GET", "/jobs/1", null);
            assertEquals(404, gone.status(), gone.body());
            assertTrue(gone.body().contains("no warm job 1"), gone.body());
            assertEquals("{\"jobs\":[]}", admin(f, "GET", "/jobs", null).body().strip());
            assertEquals(400, admin(f, "GET", "/jobs?x=1", null).status());
        }
    }

    @Test
    void badInput_getsAJsonRefusal() throws Exception {
        try (Fixture f = fixture("")) {
            AdminCacheApiTest.Reply r = warm(f, "", "[\"/objects/a\", ");
            assertEquals(400, r.status(), r.body());
            assertTrue(((String) r.json().get("error")).contains("malformed JSON"), r.body());
            await(f, "1");
            r = warm(f, "", "[\"/objects/a\", 3]");
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("not a string"), r.body());
            await(f, "2");
            r = warm(f, "?speed=9", "/objects/a");
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("unknown option 'speed'"), r.body());
            r = warm(f, "?concurrency=1000", "/objects/a");
            assertEquals(400, r.status(), r.body());
            r = warm(f, "", "http://elsewhere/objects/a.bin");
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("no route serves /objects/a.bin on host elsewhere"), r.body());
            r = warm(f, "", "\n\n# nothing\n");
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("empty"), r.body());
            assertEquals(405, admin(f, "GET", "/cache/warm", null).status());
            assertEquals(404, admin(f, "GET", "/jobs/1/x", null).status());
            // a malformed list fails its job (keys before the fault may have been fetched); refused ones leave none
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> jobs = (List<Map<String, Object>>) admin(f, "GET", "/jobs", null).json().get("jobs");
            assertEquals(2, jobs.size(), jobs.toString());
            for (Map<String, Object> j : jobs) {
                assertEquals("failed", j.get("state"), j.toString());
                assertNull(((Map<?, ?>) j.get("options")).get("host"));
            }
        }
    }
}
