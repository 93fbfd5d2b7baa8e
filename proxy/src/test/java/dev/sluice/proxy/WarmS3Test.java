package dev.sluice.proxy;

import static dev.sluice.proxy.AdminCacheApiTest.admin;
import static dev.sluice.proxy.WarmJobTest.await;
import static dev.sluice.proxy.WarmJobTest.keys;
import static dev.sluice.proxy.WarmJobTest.n;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Warm jobs over an S3 prefix against S3Proxy (a real S3-compatible server, in-process, transient store): one
 * instance without authentication, one requiring AWS signatures (SigV2/V4) where the listing is signed with the
 * upstream group's s3 credentials; a wrong secret and a server answering garbage fail the job with the reason.
 */
class WarmS3Test {
    static String LAST;
    static BlobStoreContext store;
    static S3Proxy open;
    static S3Proxy signed;
    static ServerSocket junk;
    static final String ACCESS = "AKIDWARMTEST";
    static final String SECRET = "warm-test-secret";

    static S3Proxy start(BlobStore blobs, AuthenticationType auth) throws Exception {
        S3Proxy.Builder b = S3Proxy.builder().blobStore(blobs).endpoint(URI.create("http://127.0.0.1:0"));
        if (auth != AuthenticationType.NONE) {
            b.awsAuthentication(auth, ACCESS, SECRET);
        }
        S3Proxy p = b.build();
        p.start();
        while (!AbstractLifeCycle.STARTED.equals(p.getState())) {
            Thread.sleep(10);
        }
        return p;
    }

    static byte[] body(String key) {
        return ("object " + key + " ").repeat(20).getBytes(StandardCharsets.UTF_8);
    }

    @BeforeAll
    static void s3() throws Exception {
        store = ContextBuilder.newBuilder("transient").credentials(ACCESS, SECRET).build(BlobStoreContext.class);
        BlobStore blobs = store.getBlobStore();
        blobs.createContainerInLocation(null, "media");
        // over one listing page (1000) under the prefix warmed, and keys under other prefixes that are not
        for (int i = 0; i < 1100; i++) {
            put(blobs, "media", "videos/2026/v" + i + ".bin");
        }
        for (int i = 0; i < 100; i++) {
            put(blobs, "media", "videos/2025/v" + i + ".bin");
            put(blobs, "media", "logs/l" + i + " with space.txt");
        }
        // served by the instance that requires signatures
        blobs.createContainerInLocation(null, "pub");
        for (int i = 0; i < 200; i++) {
            put(blobs, "pub", "a/" + i);
        }
        for (String k : new String[] {"odd/a b+c(1)!*',;=.bin", "odd/\u00fcn\u00ef.bin", "odd/100%.bin", "odd/dots/./x"}) {
            put(blobs, "pub", k);
        }
        open = start(blobs, AuthenticationType.NONE);
        signed = start(blobs, AuthenticationType.AWS_V2_OR_V4);
        junk = new ServerSocket(0);
        Thread.ofVirtual().start(() -> {
            while (!junk.isClosed()) {
                try (Socket s = junk.accept()) {
                    InputStream in = s.getInputStream();
                    in.read(new byte[8192]);
                    OutputStream out = s.getOutputStream();
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n\r\n<html>nope</html>\n"
                            .getBytes(StandardCharsets.ISO_8859_1));
                } catch (Exception e) {
                    // closed
                }
            }
        });
    }

    static void put(BlobStore blobs, String bucket, String key) {
        byte[] b = body(key);
        blobs.putBlob(bucket, blobs.blobBuilder(key).payload(b).contentLength(b.length).build());
    }

    @AfterAll
    static void stop() throws Exception {
        open.stop();
        signed.stop();
        junk.close();
        store.close();
    }

    static Fixture fixture(Path dir) throws Exception {
        Path secret = dir.resolve("secret");
        Files.writeString(secret, SECRET + "\n");
        Path wrong = dir.resolve("wrong");
        Files.writeString(wrong, "not-the-secret\n");
        String route = " cache { enabled = true, default-ttl = 10m, heuristic-max = 0s } }";
        return new Fixture(Fixture.simple("""
                sluice.upstreams {
                  s3 { servers = ["127.0.0.1:%d"] }
                  s3signed { servers = ["127.0.0.1:%d"], s3 { region = us-east-1, access-key = %s, secret-key-file = "%s",
                             signed-methods = [GET, HEAD, PUT] } }
                  s3listing { servers = ["127.0.0.1:%d"], s3 { region = us-east-1, access-key = %s, secret-key-file = "%s" } }
                  s3wrong { servers = ["127.0.0.1:%d"], s3 { region = us-east-1, access-key = %s, secret-key-file = "%s" } }
                  junk { servers = ["127.0.0.1:%d"] }
                }
                sluice.routes = [
                  { name = plain, host = test, path-prefix = "/media/", upstream = s3, ROUTE,
                  { name = listing, host = listing, path-prefix = "/pub/", upstream = s3listing, ROUTE,
                  { name = signed, host = test, path-prefix = "/pub/", upstream = s3signed, ROUTE,
                  { name = wrong, host = test, path-prefix = "/nope/", upstream = s3wrong, ROUTE,
                  { name = junk, host = test, path-prefix = "/junk/", upstream = junk, ROUTE,
                  { name = main, upstream = origin } ]
                sluice.cache.memory = 64MiB
                """.formatted(open.getPort(), signed.getPort(), ACCESS, secret, signed.getPort(), ACCESS, secret, signed.getPort(),
                ACCESS, wrong,
                junk.getLocalPort()).replace("ROUTE", route).replace("%", "%%")), "o1");
    }

    static Map<String, Object> warm(Fixture f, String json) throws Exception {
        AdminCacheApiTest.Reply r = admin(f, "POST", "/cache/warm", json, "Content-Type", "application/json");
        assertEquals(202, r.status(), r.body());
        return await(f, (String) r.json().get("id"));
    }

    /** A GET through the proxy: Cache-Status and the body, checked against what was stored in S3. */
    static String get(Fixture f, String bucket, String key, String path) throws Exception {
        try (TestClient c = f.client()) {
            TestClient.Response r = c.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n").read();
            assertEquals(200, r.status, r.toString());
            assertArrayEquals(body(key), r.body, path);
            LAST = r.names + " " + r.values;
            return r.header("Cache-Status");
        }
    }

    @Test
    void aPrefixOverTwoListingPages_isWarmedThroughTheRoute_andServedAsHits(@TempDir Path dir) throws Exception {
        try (Fixture f = fixture(dir)) {
            Map<String, Object> job = warm(f, "{\"route\": \"plain\", \"bucket\": \"media\", \"prefix\": \"videos/2026/\","
                    + " \"host\": \"test\", \"concurrency\": 8}");
            assertEquals("done", job.get("state"), job.toString());
            assertEquals("s3://media/videos/2026/", job.get("source"));
            assertEquals(1100, n(keys(job), "listed"), job.toString());
            assertEquals(1100, n(keys(job), "cached"), job.toString());
            for (int i : new int[] {0, 999, 1000, 1099}) {
                String key = "videos/2026/v" + i + ".bin";
                String cs = get(f, "media", key, "/media/" + key);
                assertTrue(cs.startsWith("sluice; hit"), key + ": " + cs + LAST);
            }
            String other = "videos/2025/v1.bin";
            assertTrue(get(f, "media", other, "/media/" + other).contains("fwd=uri-miss"), "another prefix is not warmed");

            // through the CLI, which sends the JSON object
            String[] out = AdminCacheApiTest.cli(0, "warm", "s3://media/logs/", "--route", "plain", "--host", "test",
                    "--wait", "--admin", "127.0.0.1:" + f.sluice.adminAddress().getPort());
            assertTrue(out[0].contains("done") && out[0].contains("100 of 100 keys done (100 cached"), out[0]);
            assertTrue(get(f, "media", "logs/l7 with space.txt", "/media/logs/l7%20with%20space.txt").startsWith("sluice; hit"));
        }
    }

    @Test
    void aSignedListing_works_andAWrongSecretOrGarbageFailsTheJobWithTheReason(@TempDir Path dir) throws Exception {
        try (Fixture f = fixture(dir)) {
            Map<String, Object> job = warm(f, "{\"route\": \"signed\", \"bucket\": \"pub\", \"prefix\": \"a/\","
                    + " \"host\": \"test\"}");
            // the signed listing found every key, and the group signs GETs: every object is fetched and stored
            assertEquals("done", job.get("state"), job.toString());
            assertEquals(200, n(keys(job), "listed"), job.toString());
            assertEquals(200, n(keys(job), "cached"), job.toString());
            assertTrue(get(f, "pub", "a/7", "/pub/a/7").startsWith("sluice; hit"), LAST);

            // a group with credentials but no signed methods signs its listings only: the objects' fetches go as
            // clients send them, and this S3Proxy refuses unsigned reads of any bucket: each key fails with 403
            job = warm(f, "{\"route\": \"listing\", \"bucket\": \"pub\", \"prefix\": \"a/\", \"host\": \"listing\"}");
            assertEquals("done", job.get("state"), job.toString());
            assertEquals(200, n(keys(job), "listed"), job.toString());
            assertEquals(200, n(keys(job), "failed"), job.toString());
            assertTrue(job.get("errors").toString().contains("HTTP 403"), job.toString());

            job = warm(f, "{\"route\": \"wrong\", \"bucket\": \"nope\", \"host\": \"test\"}");
            assertEquals("failed", job.get("state"), job.toString());
            assertTrue(((String) job.get("error")).contains("HTTP 403"), job.toString());

            job = warm(f, "{\"route\": \"junk\", \"bucket\": \"junk\", \"host\": \"test\"}");
            assertEquals("failed", job.get("state"), job.toString());
            assertTrue(((String) job.get("error")).contains("not a ListObjectsV2 result"), job.toString());
        }
    }

    /**
     * A group's signed methods read and write a bucket that refuses anonymous requests, for clients without a key:
     * however a client writes an object's name (raw reserved bytes, lowercase or needless escapes), the target is
     * sent in the canonical form that was signed; a client's own Authorization and x-amz-date are replaced.
     */
    @Test
    void signedMethods_readAndWriteAPrivateBucket_whateverFormTheClientWritesTheKeyIn(@TempDir Path dir)
            throws Exception {
        try (Fixture f = fixture(dir)) {
            String[][] forms = {
                {"odd/a b+c(1)!*',;=.bin", "/pub/odd/a%20b+c(1)!*',;=.bin"},
                {"odd/a b+c(1)!*',;=.bin", "/pub/odd/a%20b%2bc%281%29%21%2A%27%2C%3B%3D.bin"},
                {"odd/\u00fcn\u00ef.bin", "/pub/odd/%c3%bcn%C3%AF.bin"},
                {"odd/100%.bin", "/pub/odd/100%25.bin"},
                {"odd/dots/./x", "/pub/odd/dots/./x"},
                {"a/7", "/pub/%61/7?x-id=GetObject&unused"},
            };
            for (String[] k : forms) {
                String cs = get(f, "pub", k[0], k[1]);
                assertTrue(cs.contains("fwd=uri-miss") || cs.startsWith("sluice; hit"), k[1] + ": " + cs);
            }
            try (TestClient c = f.client()) {
                TestClient.Response r = c.send("HEAD /pub/a/8 HTTP/1.1\r\nHost: test\r\n\r\n").read(true, null, 0);
                assertEquals(200, r.status, r.toString());
                assertEquals(String.valueOf(body("a/8").length), r.header("Content-Length"), r.toString());
                r = c.send("GET /pub/a/9 HTTP/1.1\r\nHost: test\r\nAuthorization: AWS4-HMAC-SHA256 Credential=NOPE/x,"
                        + " SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20000101T000000Z\r\n"
                        + "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n\r\n").read();
                assertEquals(200, r.status, r.toString());
                assertArrayEquals(body("a/9"), r.body);
                // a listing through the route, its query signed (the prefix's '/' encoded)
                r = c.send("GET /pub/?list-type=2&prefix=a/1 HTTP/1.1\r\nHost: test\r\n\r\n").read();
                assertEquals(200, r.status, r.toString());
                assertEquals(111, r.bodyText().split("<Key>", -1).length - 1, r.bodyText());

                byte[] upload = "uploaded through the proxy\n".repeat(1000).getBytes(StandardCharsets.UTF_8);
                c.send("PUT /pub/up/new%20one.bin HTTP/1.1\r\nHost: test\r\nContent-Length: " + upload.length
                        + "\r\n\r\n").send(upload);
                r = c.read();
                assertEquals(200, r.status, r.toString());
            }
            try (InputStream in = store.getBlobStore().getBlob("pub", "up/new one.bin").getPayload().openStream()) {
                assertArrayEquals("uploaded through the proxy\n".repeat(1000).getBytes(StandardCharsets.UTF_8),
                        in.readAllBytes());
            }
            // the same bucket through a group that signs no method: refused to the anonymous request
            try (TestClient c = f.client()) {
                assertEquals(403, c.send("GET /pub/a/7 HTTP/1.1\r\nHost: listing\r\n\r\n").read().status);
                // and a DELETE is not signed by the group that signs GET, HEAD and PUT
                assertEquals(403, c.send("DELETE /pub/a/7 HTTP/1.1\r\nHost: test\r\n\r\n").read().status);
            }
            assertTrue(store.getBlobStore().blobExists("pub", "a/7"));
        }
    }

    @Test
    void theExampleConfigsS3Section_signsListingsThatS3ProxyAccepts(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("secret");
        Files.writeString(secret, SECRET + "\n");
        String example = Files.readString(Path.of("../conf/examples/s3-object-store.conf"));
        assertTrue(example.contains("# s3 { region"), "the example still has its commented s3 section");
        String conf = example.replace("# s3 {", "s3 {").replace("\"AKIAEXAMPLE\"", ACCESS)
                .replace("/etc/sluice/s3-secret-key", secret.toString())
                .replaceAll("10\\.0\\.0\\.1[123]:9000", "127.0.0.1:" + signed.getPort())
                .replace("0.0.0.0:9000", "127.0.0.1:0").replace("127.0.0.1:9901", "127.0.0.1:0")
                .replace("upstream = s3-gateways }\n  ]", "upstream = s3-gateways, cache.enabled = true }\n  ]")
                + "\nsluice { event-loops = 1, cache.memory = 16MiB, access-log.enabled = false,"
                + " cache.warm.max-cpu-percent = 100 }\n";
        try (Sluice sluice = Sluice.start(dev.sluice.conf.ConfigLoader.parse(conf, "s3-object-store.conf"),
                () -> System.currentTimeMillis() / 1000)) {
            var a = sluice.adminAddress();
            java.net.http.HttpResponse<String> r = AdminCacheApiTest.HTTP.send(java.net.http.HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + a.getPort() + "/cache/warm")).POST(java.net.http.HttpRequest
                    .BodyPublishers.ofString("{\"route\": \"s3-path\", \"bucket\": \"pub\", \"prefix\": \"a/1\","
                            + " \"host\": \"s3.example.internal\"}")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(202, r.statusCode(), r.body());
            String id = (String) com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(r.body()).get("id");
            Map<String, Object> job;
            do {
                Thread.sleep(50);
                job = com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(AdminCacheApiTest.HTTP.send(
                        java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + "/jobs/"
                                + id)).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
            } while (job.get("finished") == null);
            // a/1, a/10..a/19, a/100..a/199: listed with the example's signature; the objects themselves are
            // refused to the proxy's unsigned fetches by this S3Proxy (see above)
            assertEquals(null, job.get("error"), job.toString());
            assertEquals(111, n(keys(job), "listed"), job.toString());
        }
    }

    @Test
    void badS3Requests_areRefused(@TempDir Path dir) throws Exception {
        try (Fixture f = fixture(dir)) {
            String[][] cases = {
                {"{\"route\": \"plain\", \"bucket\": \"media\", \"colour\": 1}", "unknown field 'colour'"},
                {"{\"route\": \"plain\", \"bucket\": \"media\"", "malformed JSON"},
                {"{\"route\": \"nosuch\", \"bucket\": \"media\"}", "no route named nosuch"},
                {"{\"route\": \"plain\", \"bucket\": \"pub\", \"host\": \"test\"}", "served by route signed"},
                {"{\"route\": \"plain\", \"bucket\": \"B!\"}", "bad bucket name"},
                {"{\"bucket\": \"media\"}", "route is required"},
            };
            for (String[] c : cases) {
                AdminCacheApiTest.Reply r = admin(f, "POST", "/cache/warm", c[0]);
                assertEquals(400, r.status(), c[0] + " -> " + r.body());
                assertTrue(((String) r.json().get("error")).contains(c[1]), c[0] + " -> " + r.body());
            }
        }
    }
}
