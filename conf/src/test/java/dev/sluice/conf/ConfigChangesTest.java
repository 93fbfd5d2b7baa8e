package dev.sluice.conf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** What a reload reports: each change once, in the file's names, in the list that says whether it applies. */
class ConfigChangesTest {
    private static final String BASE = """
            sluice {
              listeners = [ { name = http, address = "127.0.0.1:8080" } ]
              upstreams {
                a { servers = ["127.0.0.1:9001"] }
                b { servers = ["127.0.0.1:9002"] }
              }
              routes = [
                { name = objects, path-prefix = "/objects/", upstream = a, cache.enabled = true }
                { name = main, upstream = a }
              ]
              admin.token = "first-secret-token"
            }
            """;

    private static SluiceConfig parse(String hocon) {
        return ConfigLoader.parse(hocon, "test.conf");
    }

    private static ConfigChanges changes(String next) {
        SluiceConfig base = parse(BASE);
        return ConfigChanges.between(base, base, parse(next));
    }

    @Test
    void theSameFileChangesNothing() {
        assertTrue(changes(BASE).none());
    }

    @Test
    void routesUpstreamsTimeoutsAndLimitsApply() {
        ConfigChanges c = changes(BASE
                .replace("{ name = main, upstream = a }", "{ name = main, upstream = b }\n{ name = img, upstream = b }")
                .replace("b { servers = [\"127.0.0.1:9002\"] }",
                        "b { servers = [\"127.0.0.1:9002\", { address = \"127.0.0.1:9003\", weight = 3 }],"
                                + " balance = least-connections, response-timeout = 1500ms, pool.max-idle = 8 }")
                .replace("cache.enabled = true", "cache { enabled = true, default-ttl = 1m, key.query = none }")
                + "sluice.timeouts.idle = 5s\nsluice.limits.max-request-body = 1000\n");
        assertEquals(List.of(
                "upstreams.b.balance: round-robin -> least-connections",
                "upstreams.b.servers: [127.0.0.1:9002] -> [127.0.0.1:9002, 127.0.0.1:9003 weight 3]",
                "upstreams.b.response-timeout: 30s -> 1500ms",
                "upstreams.b.pool.max-idle: 256 -> 8",
                "routes: added img",
                "routes.main.upstream: a -> b",
                "routes.objects.cache.default-ttl: 0 -> 60s",
                "routes.objects.cache.key.query: all -> none",
                "timeouts.idle: 60s -> 5s",
                "limits.max-request-body: 0 -> 1000"), c.applied());
        assertEquals(List.of(), c.restartRequired());
    }

    @Test
    void removedRoutesAndGroupsAndAnotherOrderAreChanges() {
        ConfigChanges c = changes(BASE.replace("b { servers = [\"127.0.0.1:9002\"] }", "")
                .replace("""
                        { name = objects, path-prefix = "/objects/", upstream = a, cache.enabled = true }
                            { name = main, upstream = a }""", """
                        { name = main, upstream = a }
                            { name = objects, path-prefix = "/objects/", upstream = a, cache.enabled = true }"""));
        assertEquals(List.of("upstreams: removed b", "routes: order objects, main -> main, objects"), c.applied());
    }

    @Test
    void whatIsBuiltAtStartTakesARestartAndTheTokenIsNeverShown() {
        ConfigChanges c = changes(BASE.replace("127.0.0.1:8080", "127.0.0.1:8081")
                .replace("first-secret-token", "second-secret-token")
                + "sluice { event-loops = 3, cache.memory = 1GiB, limits.max-connections = 10, access-log.format = combined }\n");
        assertEquals(List.of(), c.applied(), "max-connections is not among the limits applied");
        assertEquals(List.of(
                "event-loops: 0 -> 3",
                "listeners.http.address: 127.0.0.1:8080 -> 127.0.0.1:8081",
                "limits.max-connections: 0 -> 10",
                "cache.memory: 268435456 -> 1073741824",
                "admin.token: changed",
                "access-log.format: json -> combined"), c.restartRequired());
        assertFalse(c.restartRequired().toString().contains("secret"));
    }

    @Test
    void restartOnlyChangesCompareWithTheStartAndAppliedOnesWithTheLastReload() {
        SluiceConfig started = parse(BASE);
        SluiceConfig moved = parse(BASE.replace("127.0.0.1:8080", "127.0.0.1:8081").replace("upstream = a }",
                "upstream = b }"));
        // reloaded once already (moved is in effect for what applies); the file went back to the start's listener
        ConfigChanges c = ConfigChanges.between(started, moved, parse(BASE.replace("upstream = a }", "upstream = b }")));
        assertTrue(c.none(), c.toString());
    }

    /** An S3 secret rotated by replacing its file and reloading: applied, and never shown (nor the old one). */
    @Test
    void anS3SecretKeyChange_isAppliedAndNeverShown(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path secret = dir.resolve("secret");
        java.nio.file.Files.writeString(secret, "old-s3-secret");
        String signed = BASE.replace("a { servers = [\"127.0.0.1:9001\"] }", "a { servers = [\"127.0.0.1:9001\"], s3 {"
                + " region = us-east-1, access-key = AK, secret-key-file = \"" + secret + "\" } }");
        SluiceConfig before = parse(signed);
        java.nio.file.Files.writeString(secret, "new-s3-secret");
        ConfigChanges c = ConfigChanges.between(before, before, parse(signed.replace("access-key = AK",
                "access-key = AK, signed-methods = [GET]")));
        assertEquals(List.of("upstreams.a.s3.secret-key: changed", "upstreams.a.s3.signed-methods: [] -> [GET]"),
                c.applied());
        ConfigChanges added = ConfigChanges.between(parse(BASE), parse(BASE), before);
        assertEquals(1, added.applied().size(), added.applied().toString());
        String all = c.applied() + " " + added.applied() + " " + c.restartRequired();
        assertFalse(all.contains("old-s3-secret") || all.contains("new-s3-secret"), all);
    }
}
