package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin's cache API through a real Sluice, the loadtest origin behind it (every body verified by
 * {@link CacheTest#get}) and real sockets on both listeners.
 */
class AdminCacheApiTest {
    /** Routes for Host: test only, so other hosts have no route. */
    static final String CONFIG = """
            sluice.routes = [
              { name = objects, host = test, path-prefix = "/objects/", upstream = origin, cache.enabled = true },
              { name = main, host = test, upstream = origin } ]
            sluice.cache.memory = 64MiB
            """;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static Fixture fixture(String extra) throws Exception {
        return new Fixture(Fixture.simple(CONFIG + extra), "o1");
    }

    record Reply(int status, Map<String, Object> json, String body) {}

    static Reply admin(Fixture f, String method, String pathAndQuery, String body, String... headers) throws Exception {
        var a = f.sluice.adminAddress();
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + pathAndQuery))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        Map<String, Object> json = r.headers().firstValue("content-type").orElse("").startsWith("application/json")
                ? JSON.std.mapFrom(r.body()) : Map.of();
        return new Reply(r.statusCode(), json, r.body());
    }

    static Reply purge(Fixture f, String json) throws Exception {
        return admin(f, "POST", "/cache/purge", json);
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static int num(Reply r, String field) {
        return ((Number) r.json().get(field)).intValue();
    }

    @Test
    void purgeByUrlRemovesEveryVariantAndTheNextRequestMisses() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/v.bin?size=10k&cc=max-age%3D600&vary=Accept-Encoding";
            get(f, target, "Accept-Encoding: gzip");
            get(f, target, "Accept-Encoding: br");
            assertTrue(status(get(f, target, "Accept-Encoding: br")).contains("hit"));
            assertEquals(2, f.upstreamRequests());

            Reply r = purge(f, "{\"url\": \"http://test" + target + "\"}");
            assertEquals(200, r.status(), r.body());
            assertEquals(2, num(r, "entries"), r.body());
            assertTrue(num(r, "bytes") > 2 * 10 * 1024, r.body());

            assertTrue(status(get(f, target, "Accept-Encoding: gzip")).contains("fwd=uri-miss"));
            String br = status(get(f, target, "Accept-Encoding: br"));
            assertTrue(br.contains("fwd=vary-miss"), "gzip's was stored again, br's is gone: " + br);
            assertEquals(4, f.upstreamRequests());
            assertEquals(0, num(purge(f, "{\"url\": \"http://test/objects/never.bin\"}"), "entries"));
        }
    }

    @Test
    void purgeByPrefixAndByTag() throws Exception {
        try (Fixture f = fixture("")) {
            String a = "/objects/p/a.bin?size=1k&cc=max-age%3D600";
            String b = "/objects/p/b.bin?size=1k&cc=max-age%3D600&hdr=Surrogate-Key:red%20blue";
            String c = "/objects/q/c.bin?size=1k&cc=max-age%3D600&hdr=Surrogate-Key:blue";
            String d = "/objects/q/d.bin?size=1k&cc=max-age%3D600&hdr=Surrogate-Key:red";
            for (String t : List.of(a, b, c, d)) {
                get(f, t);
            }
            Reply tag = purge(f, "{\"tag\": \"red\"}");
            assertEquals(2, num(tag, "entries"), tag.body());
            assertTrue(status(get(f, b)).contains("fwd=uri-miss"));
            assertTrue(status(get(f, d)).contains("fwd=uri-miss"));
            assertTrue(status(get(f, c)).contains("hit"), "blue only: kept");

            Reply prefix = purge(f, "{\"prefix\": \"http://test/objects/p/\"}");
            assertEquals(2, num(prefix, "entries"), prefix.body());
            assertTrue(status(get(f, a)).contains("fwd=uri-miss"));
            assertTrue(status(get(f, c)).contains("hit"), "another prefix: kept");
            assertEquals(7, f.upstreamRequests());
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_cache_purges_total{kind=\"tag\",mode=\"remove\"}"));
            assertEquals(1.0, CacheFillTest.metric(f, "sluice_cache_purges_total{kind=\"prefix\",mode=\"remove\"}"));
            assertEquals(4.0, CacheFillTest.metric(f, "sluice_cache_purged_entries_total{mode=\"remove\"}"));
            assertEquals(num(tag, "bytes") + num(prefix, "bytes"),
                    CacheFillTest.metric(f, "sluice_cache_purged_bytes_total{mode=\"remove\"}"));
        }
    }

    /** A soft purge marks stale: a plain request goes upstream again, one that accepts stale is served from cache. */
    @Test
    void softPurgeMakesTheEntryStale() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/s.bin?size=20k&cc=max-age%3D600";
            String strict = "/objects/s2.bin?size=20k&cc=max-age%3D600,must-revalidate";
            get(f, target);
            get(f, strict);
            Reply r = purge(f, "{\"url\": \"http://test" + target + "\", \"soft\": true}");
            assertEquals(1, num(r, "entries"), r.body());
            assertEquals(1, num(purge(f, "{\"url\": \"http://test" + strict + "\", \"soft\": true}"), "entries"));
            assertEquals(2.0, CacheFillTest.metric(f, "sluice_cache_purges_total{kind=\"url\",mode=\"soft\"}"));
            assertEquals(2.0, CacheFillTest.metric(f, "sluice_cache_purged_entries_total{mode=\"soft\"}"));
            assertEquals(2, f.upstreamRequests());

            TestClient.Response stale = get(f, target, "Cache-Control: max-stale=3600");
            assertTrue(status(stale).contains("hit") && status(stale).contains("stale"), status(stale));
            assertEquals(2, f.upstreamRequests(), "stale allowed by the request: served from cache");
            assertTrue(status(get(f, strict, "Cache-Control: max-stale=3600")).startsWith("sluice; fwd=stale"),
                    "must-revalidate: never served stale");
            assertTrue(status(get(f, target)).startsWith("sluice; fwd=stale"));
            assertEquals(4, f.upstreamRequests());
            assertTrue(status(get(f, target)).contains("hit"), "the refetched copy is fresh again");
        }
    }

    /** A purge while the body is being filled: the fill completes for its client, but is not published. */
    @Test
    void purgeDuringAFillIsNotPublished() throws Exception {
        try (Fixture f = fixture(""); TestClient slow = f.client()) {
            String target = "/objects/slow.bin?size=1m&cc=max-age%3D600&rate=2m";
            slow.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
            TestClient.Response head = slow.readHeadOnly();
            assertTrue(status(head).contains("stored"), status(head));
            assertEquals(1, num(admin(f, "GET", "/cache/stats", null), "fills_in_progress"));
            Reply r = purge(f, "{\"url\": \"http://test" + target + "\"}");
            assertEquals(0, num(r, "entries"), "nothing published yet: " + r.body());
            assertEquals(1 << 20, slow.input().readNBytes(1 << 20).length, "the client gets the whole body");
            TestClient.Response next = get(f, target);
            assertTrue(status(next).contains("fwd=uri-miss"), "the purged fill was not published: " + status(next));
            assertEquals(2, f.upstreamRequests());
        }
    }

    @Test
    void inspectEntriesAndStats() throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/objects/i.bin?size=3k&cc=max-age%3D600&etag=v1&hdr=Surrogate-Key:t1";
            get(f, target);
            get(f, target);
            Reply e = admin(f, "GET", "/cache/entry?url=" + enc("http://test" + target), null);
            assertEquals(200, e.status(), e.body());
            @SuppressWarnings("unchecked")
            Map<String, Object> key = ((List<Map<String, Object>>) e.json().get("keys")).get(0);
            assertEquals("objects", key.get("route"));
            assertEquals("test" + target, key.get("key"));
            @SuppressWarnings("unchecked")
            Map<String, Object> v = ((List<Map<String, Object>>) key.get("variants")).get(0);
            assertEquals(200, ((Number) v.get("status")).intValue());
            assertEquals(3072, ((Number) v.get("size")).intValue());
            assertEquals(1, ((Number) v.get("hits")).intValue());
            assertEquals("\"v1\"", v.get("etag"));
            assertEquals(List.of("t1"), v.get("tags"));
            assertTrue(((Number) v.get("ttl")).intValue() > 590, e.body());
            assertTrue(((Number) v.get("store")).intValue() >= 0, e.body());
            assertEquals("auto", v.get("send"));
            assertTrue(e.body().contains("[\"Content-Length\",\"3072\"]"), e.body());

            Reply absent = admin(f, "GET", "/cache/entry?url=" + enc("http://test/objects/none"), null);
            assertEquals(404, absent.status());
            assertEquals(404, num(absent, "status"));

            for (String n : List.of("e", "a", "d", "b")) {
                get(f, "/objects/list/" + n + "?size=1k&cc=max-age%3D600");
            }
            String prefix = enc("http://test/objects/list/");
            Reply p1 = admin(f, "GET", "/cache/entries?prefix=" + prefix + "&limit=3", null);
            String q = "?size=1k&cc=max-age%3D600";
            assertEquals(List.of("test/objects/list/a" + q, "test/objects/list/b" + q, "test/objects/list/d" + q), keys(p1),
                    p1.body());
            Reply p2 = admin(f, "GET", "/cache/entries?prefix=" + prefix + "&limit=3&after="
                    + enc((String) p1.json().get("next")), null);
            assertEquals(List.of("test/objects/list/e" + q), keys(p2), p2.body());
            assertTrue(p2.json().containsKey("next") && p2.json().get("next") == null, p2.body());

            Reply s = admin(f, "GET", "/cache/stats", null);
            assertEquals(5, num(s, "entries"), s.body());
            assertEquals(64 << 20, num(s, "budget"));
            assertTrue(num(s, "bytes") > 0);
            assertEquals(0, num(s, "fills_in_progress"));
            assertEquals(1.0 / 6, ((Number) s.json().get("hit_ratio")).doubleValue(), 0.001, s.body());
        }
    }

    @SuppressWarnings("unchecked")
    static List<String> keys(Reply r) {
        return ((List<Map<String, Object>>) r.json().get("entries")).stream().map(m -> (String) m.get("key")).toList();
    }

    @Test
    void badRequestsGetJsonErrors() throws Exception {
        try (Fixture f = fixture("")) {
            error(purge(f, "{\"url\": "), 400, "malformed JSON");
            error(purge(f, "[1]"), 400, "JSON object");
            error(purge(f, "{\"url\": \"http://test/objects/x\", \"sof\": true}"), 400, "unknown field 'sof'");
            error(purge(f, "{\"url\": \"http://test/x\", \"tag\": \"a\"}"), 400, "exactly one");
            error(purge(f, "{\"url\": \"ftp://test/x\"}"), 400, "not an http:// URL");
            error(purge(f, "{\"url\": \"http://test/objects/x\", \"soft\": \"yes\"}"), 400, "soft");
            error(purge(f, "{\"url\": \"http://elsewhere/objects/x\"}"), 404, "no route");
            error(purge(f, "{\"url\": \"http://test/other\"}"), 404, "does not cache");
            error(admin(f, "GET", "/cache/purge", null), 405, "not allowed");
            error(admin(f, "POST", "/cache/stats", "{}"), 405, "not allowed");
            error(admin(f, "GET", "/cache/nothing", null), 404, "not found");
            error(admin(f, "GET", "/cache/entry", null), 400, "url parameter is required");
            error(admin(f, "GET", "/cache/entries?limit=0", null), 400, "limit");
            error(admin(f, "GET", "/cache/entries?colour=red", null), 400, "unknown parameter");
            error(purge(f, "{\"tag\": \"" + "x".repeat(70_000) + "\"}"), 413, "request body over");
            assertEquals(200, admin(f, "GET", "/cache/stats", null).status(), "the listener goes on");
        }
    }

    static void error(Reply r, int status, String fragment) {
        assertEquals(status, r.status(), r.body());
        assertEquals(status, num(r, "status"), r.body());
        assertTrue(((String) r.json().get("error")).contains(fragment), r.body());
    }

    /** With a token every endpoint but /health wants it; a missing or wrong one is 401, and it is never logged. */
    @Test
    void theTokenIsRequiredAndNeverLogged(@TempDir Path dir) throws Exception {
        String token = "tok-" + Long.toHexString(System.nanoTime()) + "-secret";
        Path file = dir.resolve("admin.token");
        Files.writeString(file, token + "\n");
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        java.util.logging.Level before = root.getLevel();
        root.setLevel(java.util.logging.Level.ALL); // DEBUG lines too
        try (Logs.Capture logs = new Logs.Capture();
                Fixture f = fixture("sluice.admin.token-file = \"" + file + "\"\n")) {
            assertEquals(200, admin(f, "GET", "/health", null).status());
            error(admin(f, "GET", "/cache/stats", null), 401, "bearer token");
            error(admin(f, "GET", "/metrics", null), 401, "bearer token");
            error(admin(f, "GET", "/cache/stats", null, "Authorization", "Bearer " + token + "x"), 401, "bearer token");
            error(admin(f, "GET", "/nothing", null, "Authorization", "Bearer wrong"), 401, "bearer token");
            Reply ok = admin(f, "GET", "/cache/stats", null, "Authorization", "Bearer " + token);
            assertEquals(200, ok.status(), ok.body());
            assertEquals(200, admin(f, "POST", "/cache/purge", "{\"prefix\": \"http://test/\"}",
                    "Authorization", "Bearer " + token).status());
            assertFalse(logs.records.isEmpty());
            for (var rec : logs.records) {
                String line = rec.getMessage() + " " + java.util.Arrays.toString(rec.getParameters());
                assertFalse(line.contains(token), "logged: " + line);
            }
            assertFalse(f.sluice.config().toString().contains(token));
        } finally {
            root.setLevel(before);
        }
    }

    @Test
    void withoutACacheTheEndpointsSaySo() throws Exception {
        try (Fixture f = new Fixture(Fixture.simple(""), "o1")) {
            error(admin(f, "GET", "/cache/stats", null), 404, "no cache here");
        }
    }

    /** The CLI against a running Sluice: human output, --json, and a non-zero exit on errors. */
    @Test
    void theCliPurgesInspectsListsAndCounts(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("t");
        Files.writeString(file, "cli-token\n");
        try (Fixture f = fixture("sluice.admin.token-file = \"" + file + "\"\n")) {
            String target = "/objects/cli.bin?size=2k&cc=max-age%3D600&etag=e1";
            get(f, target);
            String admin = "127.0.0.1:" + f.sluice.adminAddress().getPort();
            String url = "http://test" + target;
            String[] inspect = cli(0, "inspect", url, "--admin", admin, "--token-file", file.toString());
            assertTrue(inspect[0].contains("key test" + target + " (route objects)"), inspect[0]);
            assertTrue(inspect[0].contains("etag \"e1\""), inspect[0]);
            assertTrue(cli(0, "entries", "--admin", admin, "--token-file", file.toString())[0].contains("test" + target));
            assertTrue(cli(0, "stats", "--admin", admin, "--token-file", file.toString())[0].contains("entries            1"));
            String[] json = cli(0, "stats", "--json", "--admin", admin, "--token-file", file.toString());
            assertEquals(1, ((Number) JSON.std.mapFrom(json[0]).get("entries")).intValue(), json[0]);
            String[] purged = cli(0, "purge", url, "--admin", admin, "--token-file", file.toString());
            assertTrue(purged[0].startsWith("purged 1 entries"), purged[0]);
            String[] gone = cli(1, "inspect", url, "--admin", admin, "--token-file", file.toString());
            assertTrue(gone[1].contains("not in the cache") && gone[1].contains("HTTP 404"), gone[1]);
            assertTrue(cli(1, "stats", "--admin", admin)[1].contains("HTTP 401"), "no token");
            assertEquals(2, dev.sluice.admin.cli.AdminCommand.execute(new java.io.PrintWriter(java.io.Writer.nullWriter()),
                    new java.io.PrintWriter(java.io.Writer.nullWriter()), "purge"), "a URL, --prefix or --tag is needed");
        }
    }

    /** Runs the CLI, checks its exit status, returns what it printed: {stdout, stderr}. */
    static String[] cli(int expected, String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int status = dev.sluice.admin.cli.AdminCommand.execute(new java.io.PrintWriter(out), new java.io.PrintWriter(err), args);
        assertEquals(expected, status, () -> "exit status of " + String.join(" ", args) + ": " + out + err);
        return new String[] {out.toString(), err.toString()};
    }
}
