package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.sluice.admin.cli.AdminCommand;
import dev.sluice.conf.ConfigLoader;
import dev.sluice.loadtest.Origin;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /config/reload} (and SIGHUP) on a real Sluice started from a file, with two loadtest origins behind it
 * (each names itself in {@code X-Origin}) and real sockets throughout: what a reload applies reaches the requests that
 * start after it, a request in flight finishes on what it started with, an invalid file changes nothing, and a change
 * that takes a restart is reported and left alone.
 */
class ConfigReloadTest {
    /** %1$d, %2$d: the origins' ports; %3$s: the routes; %4$s: more settings. */
    static final String TEMPLATE = """
            sluice {
              buffer-leak-detection = paranoid
              event-loops = 2
              listeners = [ { name = http, address = "127.0.0.1:0" } ]
              upstreams {
                one { servers = ["127.0.0.1:%1$d"] }
                two { servers = ["127.0.0.1:%2$d"] }
              }
              routes = [ %3$s ]
              cache.memory = 64MiB
              admin.address = "127.0.0.1:0"
              access-log.enabled = false
            }
            %4$s
            """;
    static final String MAIN_TO_ONE = "{ name = main, upstream = one }";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;
    Path file;
    Origin one;
    Origin two;
    Sluice sluice;
    long leaksBefore;

    @BeforeEach
    void origins() {
        leaksBefore = BufferLeaks.reports();
        one = Origin.builder().name("one").build();
        two = Origin.builder().name("two").build();
        file = dir.resolve("reload.conf");
    }

    @AfterEach
    void stop() {
        if (sluice != null) {
            sluice.close();
        }
        one.close();
        two.close();
        assertEquals(0, Fixture.settleLeaks() - leaksBefore, "buffer leak reports while the test ran");
    }

    void write(String routes, String more) throws Exception {
        Files.writeString(file, String.format(TEMPLATE, one.port(), two.port(), routes, more));
    }

    Sluice start(String routes, String more) throws Exception {
        write(routes, more);
        sluice = Sluice.start(ConfigLoader.load(file), file);
        return sluice;
    }

    record Reply(int status, Map<String, Object> json, String body) {
        @SuppressWarnings("unchecked")
        List<String> list(String field) {
            return (List<String>) json.get(field);
        }
    }

    static Reply reload(Sluice s, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.adminAddress().getPort()
                + "/config/reload")).POST(HttpRequest.BodyPublishers.noBody());
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), JSON.std.mapFrom(r.body()), r.body());
    }

    /** A GET through Sluice, every body byte checked against the origin's payload for the path. */
    TestClient.Response get(String target) throws Exception {
        try (TestClient c = new TestClient(sluice.port("http"))) {
            return CacheTest.get(c, target);
        }
    }

    String origin(String target) throws Exception {
        TestClient.Response r = get(target);
        assertEquals(200, r.status, r::toString);
        return r.header("X-Origin");
    }

    double metric(String nameAndLabels) {
        for (String l : sluice.registry().scrape().split("\n")) {
            if (l.startsWith(nameAndLabels + " ")) {
                return Double.parseDouble(l.substring(nameAndLabels.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    /** Starts a 2 MiB GET paced at 1 MiB/s by the origin, read to its end (bytes verified) on another thread. */
    CompletableFuture<TestClient.Response> slowGet(String target) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return get(target);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    static void awaitTrue(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void aRouteMovedToAnotherUpstreamTakesNewRequestsThereWhileOneInFlightFinishesOnTheOld() throws Exception {
        start(MAIN_TO_ONE, "");
        assertEquals("one", origin("/a.bin"));
        CompletableFuture<TestClient.Response> slow = slowGet("/slow.bin?size=2m&rate=1m");
        awaitTrue(() -> one.requestsReceived() == 2, "origin one has the slow request");

        write("{ name = main, upstream = two }", "");
        Reply r = reload(sluice);
        assertEquals(200, r.status(), r.body());
        assertEquals(List.of("routes.main.upstream: one -> two"), r.list("changed"), r.body());
        assertEquals(List.of(), r.list("restart_required"), r.body());
        assertEquals(2, ((Number) r.json().get("generation")).intValue(), r.body());
        assertFalse(slow.isDone(), "the slow response was still in flight during the reload");

        for (int i = 0; i < 4; i++) { // both loops (connections land on either)
            assertEquals("two", origin("/b.bin?i=" + i));
        }
        TestClient.Response s = slow.get(20, TimeUnit.SECONDS); // CacheTest.get verified every byte
        assertEquals(200, s.status, s::toString);
        assertEquals("one", s.header("X-Origin"));
        assertEquals(2 << 20, s.bodyLength);
        assertEquals(2, one.requestsReceived(), "nothing new went to origin one");
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"applied\"}"));
    }

    @Test
    void aGroupWhoseServersChangeDrainsItsOldConnectionsAfterTheirExchanges() throws Exception {
        start(MAIN_TO_ONE, "");
        assertEquals("one", origin("/a.bin"));
        CompletableFuture<TestClient.Response> slow = slowGet("/slow.bin?size=2m&rate=1m");
        awaitTrue(() -> one.requestsReceived() == 2, "origin one has the slow request");
        assertTrue(one.openConnections() >= 1);

        // the group keeps its name, its server changes: the route follows it, the old group's pool drains
        Files.writeString(file, Files.readString(file).replace("one { servers = [\"127.0.0.1:" + one.port(),
                "one { servers = [\"127.0.0.1:" + two.port()));
        Reply r = reload(sluice);
        assertEquals(200, r.status(), r.body());
        assertEquals(List.of("upstreams.one.servers: [127.0.0.1:" + one.port() + "] -> [127.0.0.1:" + two.port() + "]"),
                r.list("changed"), r.body());
        assertFalse(slow.isDone(), "the slow response was still in flight during the reload");
        assertEquals("two", origin("/b.bin"));

        TestClient.Response s = slow.get(20, TimeUnit.SECONDS);
        assertEquals("one", s.header("X-Origin"));
        assertEquals(2 << 20, s.bodyLength);
        // the pooled idle connection closed at the swap, the busy one when its exchange ended: none left to origin one
        awaitTrue(() -> one.openConnections() == 0, "origin one's connections are closed (open: "
                + one.openConnections() + ")");
    }

    @Test
    void aRouteAddedAndARoutesCacheSettingsChangedApplyToTheNextRequests() throws Exception {
        String objects = "{ name = objects, path-prefix = \"/objects/\", upstream = one, cache.enabled = true }";
        start(objects + ", " + MAIN_TO_ONE, "");
        // a validator but no freshness: not fresh, so each request goes upstream
        String target = "/objects/x.bin?size=10k&etag=v1";
        get(target);
        get(target);
        assertEquals(2, one.requestsReceived());
        assertEquals("one", origin("/images/p.png"));

        write(objects.replace("cache.enabled = true", "cache { enabled = true, default-ttl = 60s }")
                + ", { name = images, path-prefix = \"/images/\", upstream = two }, " + MAIN_TO_ONE, "");
        Reply r = reload(sluice);
        assertEquals(200, r.status(), r.body());
        assertEquals(List.of("routes: added images", "routes.objects.cache.default-ttl: 0 -> 60s"), r.list("changed"),
                r.body());

        assertEquals("two", origin("/images/p.png"));
        long before = one.requestsReceived();
        get(target + "&k=2"); // stored now (default-ttl gives it 60 s)...
        TestClient.Response hit = get(target + "&k=2");
        assertTrue(CacheTest.status(hit).contains("hit"), CacheTest.status(hit));
        assertEquals(before + 1, one.requestsReceived(), "...and the second is a hit");
    }

    @Test
    void anInvalidFileChangesNothingAndTheReplyListsItsProblemsWithFileAndLine() throws Exception {
        start(MAIN_TO_ONE, "");
        write("{ name = main, upstream = nosuch, bogus = 1 }", "sluice.timeouts.idle = 1s");
        Reply r = reload(sluice);
        assertEquals(422, r.status(), r.body());
        List<String> problems = r.list("problems");
        assertEquals(2, problems.size(), r.body());
        int routesLine = lineOf("routes = [");
        for (String p : problems) {
            assertTrue(p.startsWith(file.toAbsolutePath() + ":" + routesLine + ": "), p);
        }
        assertTrue(problems.stream().anyMatch(p -> p.contains("bogus")), r.body());
        assertTrue(problems.stream().anyMatch(p -> p.contains("nosuch")), r.body());
        assertEquals("one", origin("/a.bin"), "the route still goes where it went");
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"invalid\"}"));
        assertEquals(1.0, metric("sluice_config_generation"));

        Files.writeString(file, "sluice { routes = [");
        r = reload(sluice);
        assertEquals(422, r.status(), r.body());
        assertTrue(r.list("problems").get(0).contains("reload.conf:1: "), r.body());
        Files.delete(file);
        r = reload(sluice);
        assertEquals(422, r.status(), r.body());
        assertTrue(r.list("problems").get(0).contains("no such file"), r.body());
        assertEquals("one", origin("/a.bin"));
    }

    /** An L4 listener relays each new connection to its upstream group as the generation has it then. */
    @Test
    void aTcpListenerFollowsItsGroupsNewServersForNewConnections() throws Exception {
        String listeners = "sluice.listeners = [ { name = http, address = \"127.0.0.1:0\" },"
                + " { name = raw, mode = tcp, address = \"127.0.0.1:0\", upstream = one } ]";
        start(MAIN_TO_ONE, listeners);
        int raw = sluice.port("raw");
        try (TestClient c = new TestClient(raw)) {
            assertEquals("one", CacheTest.get(c, "/a.bin").header("X-Origin"));
            Files.writeString(file, Files.readString(file).replace("one { servers = [\"127.0.0.1:" + one.port(),
                    "one { servers = [\"127.0.0.1:" + two.port()));
            Reply r = reload(sluice);
            assertEquals(200, r.status(), r.body());
            // the relay that is open stays on its server; a new connection goes to the new one
            assertEquals("one", CacheTest.get(c, "/b.bin").header("X-Origin"));
        }
        try (TestClient c = new TestClient(raw)) {
            assertEquals("two", CacheTest.get(c, "/c.bin").header("X-Origin"));
        }
    }

    /** Between requests a connection falls under the idle timeout in effect now, and the watchdog keeps up with it. */
    @Test
    void aShorterIdleTimeoutAppliesToKeepAliveConnectionsAfterTheReload() throws Exception {
        start(MAIN_TO_ONE, "");
        write(MAIN_TO_ONE, "sluice.timeouts.idle = 300ms");
        Reply r = reload(sluice);
        assertEquals(List.of("timeouts.idle: 60s -> 300ms"), r.list("changed"), r.body());
        try (TestClient c = new TestClient(sluice.port("http"))) {
            assertEquals("one", CacheTest.get(c, "/a.bin").header("X-Origin"));
            long start = System.nanoTime();
            assertEquals(-1, c.input().read(), "the idle connection was closed");
            long waited = (System.nanoTime() - start) / 1_000_000;
            assertTrue(waited < 5000, "closed after " + waited + " ms");
        }
    }

    int lineOf(String text) throws Exception {
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(text)) {
                return i + 1;
            }
        }
        throw new AssertionError(text + " not in the file");
    }

    @Test
    void aChangeThatTakesARestartIsReportedAndNotApplied() throws Exception {
        start(MAIN_TO_ONE, "");
        int port = sluice.port("http");
        String text = Files.readString(file);
        Files.writeString(file, text.replace("address = \"127.0.0.1:0\" }", "address = \"127.0.0.1:1\" }")
                .replace("cache.memory = 64MiB", "cache.memory = 32MiB")
                .replace("upstream = one", "upstream = two"));
        Reply r = reload(sluice);
        assertEquals(200, r.status(), r.body());
        assertEquals(List.of("routes.main.upstream: one -> two"), r.list("changed"), r.body());
        assertEquals(List.of("listeners.http.address: 127.0.0.1:0 -> 127.0.0.1:1", "cache.memory: 67108864 -> 33554432"),
                r.list("restart_required"), r.body());
        assertEquals(port, sluice.port("http"));
        assertEquals("two", origin("/a.bin"), "the listener as it was serves the applied route");

        // only the restart-only change left: nothing to apply, the generation stays
        r = reload(sluice);
        assertEquals(200, r.status(), r.body());
        assertEquals(List.of(), r.list("changed"), r.body());
        assertEquals(2, r.list("restart_required").size(), r.body());
        assertEquals(2, ((Number) r.json().get("generation")).intValue(), r.body());
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"unchanged\"}"));
    }

    @Test
    void theTokenIsRequiredAndTheCliPrintsWhatChanged() throws Exception {
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "s3cret-token\n");
        start(MAIN_TO_ONE, "sluice.admin.token = s3cret-token");
        write("{ name = main, upstream = two }", "sluice.admin.token = s3cret-token");
        assertEquals(401, reload(sluice).status());
        assertEquals(401, reload(sluice, "Authorization", "Bearer wrong").status());
        assertEquals("one", origin("/a.bin"), "a refused reload changed nothing");

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String admin = "127.0.0.1:" + sluice.adminAddress().getPort();
        int status = AdminCommand.execute(new PrintWriter(out), new PrintWriter(err), "--admin", admin, "--token-file",
                tokenFile.toString(), "reload");
        assertEquals(0, status, err::toString);
        assertTrue(out.toString().contains("routes.main.upstream: one -> two"), out.toString());
        assertEquals("two", origin("/a.bin"));

        write("{ name = main, upstream = nosuch }", "sluice.admin.token = s3cret-token");
        out = new StringWriter();
        err = new StringWriter();
        status = AdminCommand.execute(new PrintWriter(out), new PrintWriter(err), "--admin", admin, "--token-file",
                tokenFile.toString(), "reload");
        assertEquals(1, status, out::toString);
        assertTrue(err.toString().contains("reload.conf:") && err.toString().contains("nosuch"), err.toString());
    }

    /** The file is the one Sluice started with: a caller cannot name another, nor send anything else. */
    @Test
    void aReloadTakesNoFileFromTheCallerAndOnlyPost() throws Exception {
        start(MAIN_TO_ONE, "");
        Path other = dir.resolve("other.conf");
        Files.writeString(other, String.format(TEMPLATE, one.port(), two.port(), "{ name = main, upstream = two }", ""));
        String base = "http://127.0.0.1:" + sluice.adminAddress().getPort() + "/config/reload";
        for (String body : List.of("{\"file\": \"" + other + "\"}", "[1]", "not json")) {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().startsWith("{\"error\":"), r.body());
        }
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "?file=" + other)).POST(
                HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, r.statusCode(), r.body());
        r = HTTP.send(HttpRequest.newBuilder(URI.create(base)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, r.statusCode(), r.body());
        assertEquals("POST", r.headers().firstValue("Allow").orElse(""));
        assertEquals("one", origin("/a.bin"), "nothing was reloaded");
        assertEquals(200, HTTP.send(HttpRequest.newBuilder(URI.create(base)).POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode(), "an empty object is no body");
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"unchanged\"}"));
    }

    @Test
    void withoutAFileAReloadIsRefusedWith409() throws Exception {
        write(MAIN_TO_ONE, "");
        sluice = Sluice.start(ConfigLoader.load(file)); // as the demo: from no file
        Reply r = reload(sluice);
        assertEquals(409, r.status(), r.body());
        assertTrue(String.valueOf(r.json().get("error")).contains("nothing to reload"), r.body());
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"no_file\"}"));
    }

    /**
     * The SIGHUP handler's own method, in this JVM (a real SIGHUP to the test JVM would reach its handler, or end
     * it): the real signal is sent to a separate Sluice in {@link ConfigReloadSignalTest}.
     */
    @Test
    void theHangupHandlerReloads() throws Exception {
        start(MAIN_TO_ONE, "");
        write("{ name = main, upstream = two }", "");
        HangupSignal.handle(sluice.reloader());
        assertEquals("two", origin("/a.bin"));
        assertEquals(1.0, metric("sluice_config_reloads_total{result=\"applied\"}"));
        assertNotNull(sluice.reloader());
    }
}
