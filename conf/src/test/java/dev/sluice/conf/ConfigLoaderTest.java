package dev.sluice.conf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.conf.SluiceConfig.Balance;
import dev.sluice.conf.SluiceConfig.CacheConfig;
import dev.sluice.conf.SluiceConfig.CacheLock;
import dev.sluice.conf.SluiceConfig.CacheFill;
import dev.sluice.conf.SluiceConfig.CacheSend;
import dev.sluice.conf.SluiceConfig.HostPort;
import dev.sluice.conf.SluiceConfig.LeakDetection;
import dev.sluice.conf.SluiceConfig.ListenerMode;
import dev.sluice.conf.SluiceConfig.LoopScheduling;
import dev.sluice.conf.SluiceConfig.QueryKey;
import dev.sluice.conf.SluiceConfig.QueryMode;
import dev.sluice.conf.SluiceConfig.RouteCache;
import dev.sluice.conf.SluiceConfig.ZeroCopy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    private static final String MINIMAL = """
            sluice {
              upstreams { origin { servers = ["127.0.0.1:9000"] } }
              routes = [ { upstream = origin } ]
            }
            """;

    @Test
    void parse_minimal_appliesEveryDefaultFromReferenceConf() {
        SluiceConfig c = ConfigLoader.parse(MINIMAL, "minimal.conf");
        assertEquals(1, c.listeners().size());
        assertEquals(new HostPort("127.0.0.1", 8080), c.listeners().get(0).address());
        assertEquals(ListenerMode.HTTP, c.listeners().get(0).mode());
        assertEquals(Duration.ofSeconds(2), c.timeouts().connect());
        assertEquals(Duration.ofSeconds(30), c.upstreams().get("origin").responseTimeout());
        assertEquals(256, c.upstreams().get("origin").poolMaxIdle());
        assertEquals(Balance.ROUND_ROBIN, c.upstreams().get("origin").balance());
        assertEquals("/", c.routes().get(0).pathPrefix());
        assertEquals("route-0", c.routes().get(0).name());
        assertEquals(ZeroCopy.AUTO, c.routes().get(0).zeroCopy());
        assertNull(c.routes().get(0).header());
        assertEquals(32 * 1024, c.limits().maxHeaderSize());
        assertEquals(0, c.limits().maxConnections(), "0: derived from RLIMIT_NOFILE at start");
        assertTrue(c.admin().enabled());
        assertEquals(64, c.splice().maxPipes());
        assertEquals(1 << 20, c.splice().pipeSize());
        assertEquals(64 * 1024, c.splice().minBytes());
        assertEquals(256 * 1024, c.splice().batchMax());
        assertEquals(Duration.ofMillis(1), c.splice().batchDelay());
        assertEquals(LoopScheduling.NORMAL, c.eventLoopScheduling());
        assertEquals(LeakDetection.DISABLED, c.bufferLeakDetection());
    }

    @Test
    void parse_bufferLeakDetection_nettyLevels_anythingElseListsTheChoices() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  buffer-leak-detection = %s");
        for (LeakDetection l : LeakDetection.values()) {
            String name = l.name().toLowerCase(java.util.Locale.ROOT);
            assertEquals(l, ConfigLoader.parse(base.formatted(name), "l.conf").bufferLeakDetection());
        }
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(base.formatted("on"), "l.conf"));
        assertTrue(e.getMessage().contains(
                "l.conf:2: sluice.buffer-leak-detection: 'on' is not one of disabled | simple | advanced | paranoid"),
                e.getMessage());
    }

    @Test
    void parse_eventLoopScheduling_batchOrNormal_anythingElseListsTheChoices() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  event-loop-scheduling = %s");
        assertEquals(LoopScheduling.BATCH, ConfigLoader.parse(base.formatted("batch"), "s.conf").eventLoopScheduling());
        assertEquals(LoopScheduling.NORMAL, ConfigLoader.parse(base.formatted("normal"), "s.conf").eventLoopScheduling());
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(base.formatted("fifo"), "s.conf"));
        assertTrue(e.getMessage().contains("s.conf:2: sluice.event-loop-scheduling: 'fifo' is not one of normal | batch"),
                e.getMessage());
    }

    @Test
    void parse_spliceBatching_valuesAndBounds() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  splice { %s }");
        SluiceConfig c = ConfigLoader.parse(base.formatted("batch-max = 1MiB, batch-delay = 250us"), "b.conf");
        assertEquals(1 << 20, c.splice().batchMax());
        assertEquals(Duration.ofNanos(250_000), c.splice().batchDelay());
        SluiceConfig off = ConfigLoader.parse(base.formatted("batch-max = 0"), "b.conf");
        assertEquals(0, off.splice().batchMax());

        ConfigException big = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("batch-max = 65MiB"), "b.conf"));
        assertTrue(big.problems().get(0).startsWith("b.conf:2: sluice.splice.batch-max:"), big.problems().toString());
        ConfigException slow = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("batch-delay = 2s"), "b.conf"));
        assertTrue(slow.problems().get(0).startsWith("b.conf:2: sluice.splice.batch-delay: must be between 0 and"),
                slow.problems().toString());
        ConfigException type = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("batch-delay = soon"), "b.conf"));
        assertTrue(type.problems().get(0).contains("sluice.splice.batch-delay"), type.problems().toString());
    }

    @Test
    void parse_cacheWarm_defaultsAndValues() {
        assertEquals(SluiceConfig.WarmConfig.DEFAULTS, ConfigLoader.parse(MINIMAL, "w.conf").cache().warm());
        String base = MINIMAL.replace("sluice {", "sluice {\n  cache.warm { %s }");
        assertEquals(new SluiceConfig.WarmConfig(2, Duration.ZERO, 5, 0), ConfigLoader.parse(
                base.formatted("max-jobs = 2, keep-finished = 0s, max-in-flight = 5, max-cpu-percent = 0"), "w.conf")
                .cache().warm());
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("max-jobs = 0"), "w.conf"));
        assertTrue(e.problems().get(0).contains("sluice.cache.warm.max-jobs"), e.problems().toString());
        for (String cpu : new String[] {"101", "-1"}) {
            ConfigException p = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse(base.formatted("max-cpu-percent = " + cpu), "w.conf"));
            assertTrue(p.problems().get(0).contains("sluice.cache.warm.max-cpu-percent: must be"), p.problems().toString());
        }
    }

    @Test
    void parse_upstreamS3_allOrNone_theSecretReadFromItsFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        assertEquals(null, ConfigLoader.parse(MINIMAL, "s.conf").upstreams().get("origin").s3());
        java.nio.file.Path secret = dir.resolve("secret");
        java.nio.file.Files.writeString(secret, "  s3cr3t\n");
        String base = MINIMAL.replace("servers = [\"127.0.0.1:9000\"]", "servers = [\"127.0.0.1:9000\"], s3 { %s }");
        SluiceConfig.S3Credentials c = ConfigLoader.parse(base.formatted("region = eu-west-1, access-key = AK, "
                + "secret-key-file = \"" + secret + "\""), "s.conf").upstreams().get("origin").s3();
        assertEquals(new SluiceConfig.S3Credentials("eu-west-1", "AK", "s3cr3t"), c);
        assertFalse(c.toString().contains("s3cr3t"), "the secret is never printed");
        ConfigException some = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("region = eu-west-1"), "s.conf"));
        assertTrue(some.problems().get(0).contains("set all of region, access-key and secret-key-file, or none"),
                some.problems().toString());
        ConfigException missing = assertThrows(ConfigException.class, () -> ConfigLoader.parse(base.formatted(
                "region = eu-west-1, access-key = AK, secret-key-file = \"" + dir.resolve("nope") + "\""), "s.conf"));
        assertTrue(missing.problems().get(0).contains("s3.secret-key-file: cannot read"), missing.problems().toString());
        assertFalse(missing.problems().get(0).contains("s3cr3t"));
    }

    @Test
    void parse_upstreamS3SignedMethods_needCredentials_eachAMethodTheSignerKnows(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path secret = dir.resolve("secret");
        java.nio.file.Files.writeString(secret, "s3cr3t");
        String base = MINIMAL.replace("servers = [\"127.0.0.1:9000\"]", "servers = [\"127.0.0.1:9000\"], s3 { %s }");
        String creds = "region = eu-west-1, access-key = AK, secret-key-file = \"" + secret + "\", ";
        SluiceConfig.S3Credentials c = ConfigLoader.parse(base.formatted(creds + "signed-methods = [GET, HEAD]"),
                "s.conf").upstreams().get("origin").s3();
        assertEquals(java.util.Set.of("GET", "HEAD"), c.signedMethods());
        assertTrue(c.signs("HEAD") && !c.signs("PUT") && !c.signs("get"));
        assertFalse(ConfigLoader.parse(base.formatted(creds), "s.conf").upstreams().get("origin").s3().signs("GET"),
                "no method is signed by default: clients' own signatures pass");
        String[][] bad = {
            {creds + "signed-methods = [get]", "s3.signed-methods[0]: one of GET, HEAD, PUT, POST, DELETE, PATCH, OPTIONS"},
            {creds + "signed-methods = [GET, GET]", "s3.signed-methods[1]: one of GET"},
            {creds + "signed-methods = [PROPFIND]", "s3.signed-methods[0]: one of GET"},
            {"signed-methods = [GET]", "s3.signed-methods: signing needs region, access-key and secret-key-file"},
        };
        for (String[] b : bad) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(base.formatted(b[0]), "s.conf"));
            assertTrue(e.problems().get(0).startsWith("s.conf:"), e.problems().toString());
            assertTrue(e.problems().get(0).contains(b[1]), b[0] + " -> " + e.problems());
        }
    }

    @Test
    void parse_cache_defaultsFromReferenceConf() {
        SluiceConfig c = ConfigLoader.parse(MINIMAL, "c.conf");
        assertEquals(new CacheConfig(256L << 20, 64L << 20, 4L << 20, CacheLock.TRY, CacheSend.AUTO,
                Duration.ofMinutes(2), CacheFill.RECEIVE, "Surrogate-Key"), c.cache());
    }

    @Test
    void parse_cache_valuesAndLabels() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  cache { %s }");
        SluiceConfig c = ConfigLoader.parse(base.formatted("memory = 1MiB, max-object-size = 1, fill-on-abort-max = 0, "
                + "lock = required, send = send-zc, hit-for-pass = 0s, fill = tee, tag-header = Cache-Tag"), "c.conf");
        assertEquals(new CacheConfig(1 << 20, 1, 0, CacheLock.REQUIRED, CacheSend.SEND_ZC, Duration.ZERO, CacheFill.TEE,
                "Cache-Tag"),
                c.cache());
        assertEquals(0, ConfigLoader.parse(base.formatted("memory = 0"), "c.conf").cache().memory(), "0: no cache");
        for (CacheLock l : CacheLock.values()) {
            String label = l.name().toLowerCase(java.util.Locale.ROOT);
            assertEquals(l, ConfigLoader.parse(base.formatted("lock = " + label), "c.conf").cache().lock());
        }
        for (CacheSend s : CacheSend.values()) {
            String label = s.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
            assertEquals(s, ConfigLoader.parse(base.formatted("send = " + label), "c.conf").cache().send());
        }
        for (CacheFill f : CacheFill.values()) {
            String label = f.name().toLowerCase(java.util.Locale.ROOT);
            assertEquals(f, ConfigLoader.parse(base.formatted("fill = " + label), "c.conf").cache().fill());
        }
    }

    @Test
    void parse_cache_badValues_eachNamesFileLineAndKey() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  cache { %s }");
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("memory = 512KiB",
                "c.conf:2: sluice.cache.memory: must be 0 (no cache) or at least 1048576 bytes, got 524288");
        cases.put("memory = -1",
                "c.conf:2: sluice.cache.memory: Attempt to construct memory size with negative number: -1");
        cases.put("max-object-size = 0",
                "c.conf:2: sluice.cache.max-object-size: must be at least 1 byte, got 0");
        cases.put("fill-on-abort-max = -1KiB", "c.conf:2: sluice.cache.fill-on-abort-max: "
                + "Attempt to construct memory size with negative number: -1024");
        cases.put("lock = always", "c.conf:2: sluice.cache.lock: 'always' is not one of off | try | required");
        cases.put("send = mmap",
                "c.conf:2: sluice.cache.send: 'mmap' is not one of auto | write | send-zc | splice | sendfile");
        cases.put("fill = splice", "c.conf:2: sluice.cache.fill: 'splice' is not one of receive | tee");
        cases.put("fill = 1", "c.conf:2: sluice.cache.fill: '1' is not one of receive | tee");
        cases.put("hit-for-pass = -1s",
                "c.conf:2: sluice.cache.hit-for-pass: must be 0 or a positive duration, got PT-1S");
        cases.put("memroy = 1GiB", "c.conf:2: sluice.cache.memroy: unknown key (did you mean 'memory'?)");
        for (Map.Entry<String, String> e : cases.entrySet()) {
            ConfigException ex = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse(base.formatted(e.getKey()), "c.conf"), e.getKey());
            assertEquals(List.of(e.getValue()), ex.problems(), e.getKey());
        }
    }

    @Test
    void parse_routeCache_defaultsFromReferenceConf() {
        SluiceConfig c = ConfigLoader.parse(MINIMAL, "c.conf");
        assertEquals(rc(false, Duration.ZERO, List.of(), new QueryKey(QueryMode.ALL, List.of()), false),
                c.routes().get(0).cache());
    }

    @Test
    void parse_routeCache_overridesOnlyWhatTheRouteSets() {
        String hocon = """
                sluice {
                  upstreams { origin { servers = ["127.0.0.1:9000"] } }
                  routes = [
                    { name = a, upstream = origin, cache { enabled = true, default-ttl = 30s } }
                    { name = b, upstream = origin, cache.key.query = [b, a] }
                    { name = c, upstream = origin, cache { default-ttl-statuses = [200, 404], key { query = none } } }
                    { name = d, upstream = origin, cache { store-set-cookie = true, key.query = ALL } }
                    { name = e, upstream = origin }
                    { name = f, upstream = origin, cache { heuristic-max = 0s, stale-while-revalidate = 1m, stale-if-error = 1h } }
                  ]
                }
                """;
        List<RouteCache> caches = ConfigLoader.parse(hocon, "c.conf").routes().stream().map(r -> r.cache()).toList();
        QueryKey all = new QueryKey(QueryMode.ALL, List.of());
        assertEquals(rc(true, Duration.ofSeconds(30), List.of(), all, false), caches.get(0));
        assertEquals(rc(false, Duration.ZERO, List.of(), new QueryKey(QueryMode.ONLY, List.of("b", "a")),
                false), caches.get(1), "the names keep the order they were listed in");
        assertEquals(rc(false, Duration.ZERO, List.of(200, 404), new QueryKey(QueryMode.NONE, List.of()),
                false), caches.get(2));
        assertEquals(rc(false, Duration.ZERO, List.of(), all, true), caches.get(3));
        assertEquals(rc(false, Duration.ZERO, List.of(), all, false), caches.get(4));
        assertEquals(new RouteCache(false, Duration.ZERO, List.of(), all, false, Duration.ZERO, Duration.ofMinutes(1),
                Duration.ofHours(1)), caches.get(5));
    }

    /** A route cache section with the reference's heuristic-max (1d) and no stale allowances. */
    private static RouteCache rc(boolean enabled, Duration ttl, List<Integer> statuses, QueryKey q, boolean cookie) {
        return new RouteCache(enabled, ttl, statuses, q, cookie, Duration.ofDays(1), Duration.ZERO, Duration.ZERO);
    }

    @Test
    void parse_routeCache_badValues_eachNamesFileLineAndKey() {
        String base = """
                sluice {
                  upstreams { origin { servers = ["127.0.0.1:9000"] } }
                  routes = [ { upstream = origin, cache { %s } } ]
                }
                """;
        String at = "r.conf:3: sluice.routes[0].cache.";
        Map<String, List<String>> cases = new java.util.LinkedHashMap<>();
        cases.put("default-ttl = -1s", List.of(at + "default-ttl: must be 0 or a positive duration, got PT-1S"));
        cases.put("default-ttl-statuses = [200, 199, 600, x, 200.5]", List.of(
                at + "default-ttl-statuses[1]: a status from 200 to 599, got 199",
                at + "default-ttl-statuses[2]: a status from 200 to 599, got 600",
                at + "default-ttl-statuses[3]: a status from 200 to 599, got \"x\"",
                at + "default-ttl-statuses[4]: a status from 200 to 599, got 200.5"));
        cases.put("key.query = 5", List.of(at + "key.query: expected all | none | [names], got 5"));
        cases.put("key.query = some", List.of(at + "key.query: expected all | none | [names], got \"some\""));
        cases.put("key.query = []", List.of(at + "key.query: an empty list keeps no parameter; write none for that"));
        cases.put("key.query = [a, \"\"]", List.of(at + "key.query[1]: a parameter name cannot be empty"));
        cases.put("key.query = [a, b, a]", List.of(at + "key.query[2]: 'a' is listed twice"));
        cases.put("key.query = [a, 2]",
                List.of(at + "key.query[1]: a parameter name is a string, got number 2 (quote it)"));
        cases.put("key.query = [\"a=b\"]",
                List.of(at + "key.query[0]: a parameter name cannot contain '&' or '=', got \"a=b\""));
        cases.put("key = none", List.of(at + "key: must be an object, e.g. key { query = none }"));
        cases.put("ttl = 1s", List.of(at + "ttl: unknown key"));
        cases.put("key { qurey = none }", List.of(at + "key.qurey: unknown key (did you mean 'query'?)"));
        for (Map.Entry<String, List<String>> e : cases.entrySet()) {
            ConfigException ex = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse(base.formatted(e.getKey()), "r.conf"), e.getKey());
            assertEquals(e.getValue(), ex.problems(), e.getKey());
        }
        // not a section at all: one problem, at its own line, rather than one for each key it lacks
        String whole = base.replace("cache { %s }", "cache = %s");
        for (String v : List.of("true", "null")) {
            ConfigException ex = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse(whole.formatted(v), "r.conf"), v);
            assertEquals(List.of("r.conf:3: sluice.routes[0].cache: must be an object, e.g. cache { enabled = true }"),
                    ex.problems(), v);
        }
    }

    @Test
    void parse_tcpCongestion_systemByDefault_checkedAgainstTheKernel() throws Exception {
        SluiceConfig d = ConfigLoader.parse(MINIMAL, "c.conf");
        assertEquals("", d.listeners().get(0).tcpCongestion());
        assertEquals("", d.upstreams().get("origin").tcpCongestion());

        // reno is built into every Linux kernel
        String hocon = """
                sluice {
                  listeners = [ { name = h, address = "127.0.0.1:0", tcp-congestion = %s } ]
                  upstreams { origin { servers = ["127.0.0.1:9000"], tcp-congestion = %s } }
                  routes = [ { upstream = origin } ]
                }
                """;
        SluiceConfig c = ConfigLoader.parse(hocon.formatted("reno", "reno"), "c.conf");
        assertEquals("reno", c.listeners().get(0).tcpCongestion());
        assertEquals("reno", c.upstreams().get("origin").tcpCongestion());

        ConfigException bad = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(hocon.formatted("\"Cubic!\"", "reno"), "c.conf"));
        assertEquals(1, bad.problems().size(), bad.problems().toString());
        assertTrue(bad.problems().get(0).startsWith("c.conf:2: sluice.listeners[0].tcp-congestion: 'Cubic!' is not a"),
                bad.problems().toString());
        ConfigException missing = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(hocon.formatted("reno", "nosuchcc"), "c.conf"));
        assertEquals(1, missing.problems().size(), missing.problems().toString());
        String available;
        try (var in = new java.io.FileInputStream("/proc/sys/net/ipv4/tcp_available_congestion_control")) {
            available = new String(in.readAllBytes()).strip();
        }
        assertEquals("c.conf:3: sluice.upstreams.origin.tcp-congestion: 'nosuchcc' is not available in this kernel "
                + "(available: " + available + "; load its module, e.g. modprobe tcp_nosuchcc)",
                missing.problems().get(0));
    }

    @Test
    void parse_unknownKey_namesFileLineAndKeyWithSuggestion() {
        String hocon = """
                sluice {
                  upstreams { origin { servers = ["127.0.0.1:9000"] } }
                  routes = [
                    { upstream = origin,
                      path-prefx = "/a" }
                  ]
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon, "typo.conf"));
        assertEquals(List.of("typo.conf:5: sluice.routes[0].path-prefx: unknown key (did you mean 'path-prefix'?)"),
                e.problems());
    }

    @Test
    void parse_unknownTopLevelAndNestedKeys_allReported() {
        String hocon = """
                slice { x = 1 }
                sluice {
                  timeouts { conect = 1s }
                  upstreams { origin { servers = [{ address = "127.0.0.1:1", wieght = 2 }], pool { max-idel = 3 } } }
                  routes = [ { upstream = origin } ]
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon, "k.conf"));
        String all = e.getMessage();
        assertTrue(all.contains("k.conf:1: slice: unknown top-level key"), all);
        assertTrue(all.contains("k.conf:3: sluice.timeouts.conect: unknown key"), all);
        assertTrue(all.contains("k.conf:4: sluice.upstreams.origin.servers[0].wieght: unknown key"), all);
        assertTrue(all.contains("k.conf:4: sluice.upstreams.origin.pool.max-idel: unknown key"), all);
        assertEquals(4, e.problems().size(), all);
    }

    @Test
    void parse_maxConnections_takesACountAndRejectsNegativeOrNonNumbers() {
        String base = MINIMAL.replace("sluice {", "sluice {\n  limits.max-connections = %s");
        assertEquals(5000, ConfigLoader.parse(base.formatted("5000"), "m.conf").limits().maxConnections());
        ConfigException neg = assertThrows(ConfigException.class, () -> ConfigLoader.parse(base.formatted("-1"), "m.conf"));
        assertEquals(List.of("m.conf:2: sluice.limits.max-connections: must be >= 0, got -1"), neg.problems());
        ConfigException word = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(base.formatted("lots"), "m.conf"));
        assertEquals(List.of("m.conf:2: sluice.limits.max-connections: has type string, expected number"),
                word.problems());
    }

    @Test
    void parse_wrongType_namesFileLineKeyAndExpectedType() {
        String hocon = """
                sluice {
                  upstreams { origin { servers = ["127.0.0.1:9000"] } }
                  routes = [ { upstream = origin } ]
                  timeouts {
                    idle = "forever"
                  }
                  event-loops = "two"
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon, "types.conf"));
        String all = e.getMessage();
        assertTrue(all.contains("types.conf:5: sluice.timeouts.idle:"), all);
        assertTrue(all.contains("types.conf:7: sluice.event-loops: has type string, expected number"), all);
    }

    @Test
    void parse_routeNamingMissingUpstream_isAnErrorAtTheRoute() {
        String hocon = """
                sluice {
                  upstreams { origin { servers = ["127.0.0.1:9000"] } }
                  routes = [
                    { upstream = origin }
                    { name = media, upstream = medai }
                  ]
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon, "r.conf"));
        assertEquals(List.of("r.conf:5: sluice.routes[1].upstream: no upstream group named 'medai' (defined: origin)"),
                e.problems());
    }

    @Test
    void parse_badValues_eachReported() {
        String hocon = """
                sluice {
                  listeners = [
                    { name = a, address = "127.0.0.1:80800" }
                    { name = a, mode = tcp, address = "127.0.0.1:81" }
                    { name = b, mode = udp, address = "127.0.0.1:82" }
                  ]
                  upstreams {
                    empty { servers = [] }
                    origin { balance = random, servers = ["nohost"] }
                  }
                  routes = [ { upstream = origin, path-prefix = "x", host = "bad host" } ]
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon, "b.conf"));
        String all = e.getMessage();
        assertTrue(all.contains("b.conf:3: sluice.listeners[0].address: expected \"host:port\""), all);
        assertTrue(all.contains("b.conf:4: sluice.listeners[1].name: duplicate listener name 'a'"), all);
        assertTrue(all.contains("sluice.listeners[1].upstream: a tcp listener needs an upstream group"), all);
        assertTrue(all.contains("b.conf:5: sluice.listeners[2].mode: 'udp' is not one of http | tcp"), all);
        assertTrue(all.contains("b.conf:8: sluice.upstreams.empty.servers: an upstream group needs at least one server"), all);
        assertTrue(all.contains("b.conf:9: sluice.upstreams.origin.balance: 'random' is not one of round-robin | least-connections"), all);
        assertTrue(all.contains("b.conf:9: sluice.upstreams.origin.servers[0]: expected \"host:port\""), all);
        assertTrue(all.contains("b.conf:11: sluice.routes[0].path-prefix: path-prefix must start with '/'"), all);
        assertTrue(all.contains("b.conf:11: sluice.routes[0].host: host must be a name"), all);
    }

    @Test
    void parse_syntaxError_namesFileAndLine() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("sluice {\n  routes = [ \n", "broken.conf"));
        assertTrue(e.getMessage().startsWith("broken.conf:"), e.getMessage());
    }

    @Test
    void load_file_errorsNameTheRealPath(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("sluice.conf");
        Files.writeString(f, "sluice {\n  admin { adress = \"x\" }\n}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(f));
        assertTrue(e.getMessage().startsWith(f + ":2: sluice.admin.adress: unknown key"), e.getMessage());
        ConfigException missing = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.conf")));
        assertTrue(missing.getMessage().contains("no such file"));
    }

    @Test
    void load_shippedExamples_areValid() {
        Path examples = Path.of("examples");
        SluiceConfig s3 = ConfigLoader.load(examples.resolve("s3-object-store.conf"));
        assertEquals(Balance.LEAST_CONNECTIONS, s3.upstreams().get("s3-gateways").balance());
        assertEquals(2, s3.upstreams().get("s3-gateways").servers().get(0).weight());
        assertEquals(5L << 30, s3.limits().maxRequestBody());
        assertEquals("*.s3.example.internal", s3.routes().get(0).host());
        assertEquals("cubic", s3.upstreams().get("s3-gateways").tcpCongestion());
        assertEquals("", s3.listeners().get(0).tcpCongestion());

        SluiceConfig multi = ConfigLoader.load(examples.resolve("several-routes.conf"));
        assertEquals(4, multi.routes().size());
        assertEquals("X-Canary", multi.routes().get(0).header().name());
        assertEquals(ListenerMode.TCP, multi.listeners().get(1).mode());
        assertEquals("nvme-targets", multi.listeners().get(1).upstream());
        assertEquals(Duration.ofMinutes(10), multi.listeners().get(1).idleTimeout());
        assertEquals(ZeroCopy.SPLICE, multi.routes().get(2).zeroCopy());
    }

    @Test
    void demo_withOriginOverride_routesToTheOrigin() {
        SluiceConfig demo = ConfigLoader.demo(Map.of("sluice.upstreams.demo-origin.servers", List.of("127.0.0.1:4321")));
        assertTrue(demo.demo().enabled());
        assertEquals(new HostPort("127.0.0.1", 4321), demo.upstreams().get("demo-origin").servers().get(0).address());
        assertEquals("demo-origin", demo.routes().get(0).upstream());
    }

    @Test
    void hostPorts_parse_acceptsV4V6AndRejectsJunk() {
        assertEquals(new HostPort("::1", 80), HostPorts.parse("[::1]:80"));
        assertEquals(new HostPort("example.com", 0), HostPorts.parse("example.com:0"));
        assertNull(HostPorts.parse("example.com"));
        assertNull(HostPorts.parse("::1:80"));
        assertNull(HostPorts.parse("h:65536"));
        assertNull(HostPorts.parse(":80"));
    }

    /** The admin token: inline or from a file, validated, never in a message or toString; a public address needs one. */
    @Test
    void admin_tokenAndAddress(@TempDir Path dir) throws Exception {
        assertEquals("", ConfigLoader.parse(MINIMAL, "a.conf").admin().token(), "no token by default");
        Path f = dir.resolve("sluice.conf");
        Files.writeString(f, "sluice {\n  upstreams { origin { servers = [\"127.0.0.1:9000\"] } }\n"
                + "  routes = [ { upstream = origin } ]\n  admin.address = \"0.0.0.0:9901\"\n}\n");
        ConfigException open = assertThrows(ConfigException.class, () -> ConfigLoader.load(f));
        assertTrue(open.getMessage().startsWith(f + ":4: sluice.admin.address: the admin listener on a non-loopback"),
                open.getMessage());
        String local = MINIMAL.replace("sluice {", "sluice {\n  admin { %s }");
        assertEquals("", ConfigLoader.parse(local.formatted("address = \"[::1]:0\""), "a.conf").admin().token());
        assertEquals("", ConfigLoader.parse(local.formatted("address = \"localhost:0\""), "a.conf").admin().token());

        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "s3cret-T0ken\n");
        SluiceConfig c = ConfigLoader.parse(local.formatted("address = \"0.0.0.0:0\", token-file = \"" + tokenFile + "\""),
                "a.conf");
        assertEquals("s3cret-T0ken", c.admin().token(), "read, surrounding whitespace dropped");
        assertFalse(c.toString().contains("s3cret"), "toString redacts the token: " + c.admin());
        assertEquals("inline", ConfigLoader.parse(local.formatted("address = \"0.0.0.0:0\", token = inline"), "a.conf")
                .admin().token());

        Files.writeString(tokenFile, "  \n");
        ConfigException empty = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(local.formatted("token-file = \"" + tokenFile + "\""), "a.conf"));
        assertTrue(empty.problems().get(0).startsWith("a.conf:2: sluice.admin.token-file: " + tokenFile + " is empty"),
                empty.problems().toString());
        ConfigException missing = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(local.formatted("token-file = \"" + dir.resolve("nope") + "\""), "a.conf"));
        assertTrue(missing.problems().get(0).contains("sluice.admin.token-file: cannot read"), missing.problems().toString());
        ConfigException both = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(local.formatted("token = x, token-file = \"" + tokenFile + "\""), "a.conf"));
        assertTrue(both.problems().get(0).contains("not both"), both.problems().toString());
        ConfigException spaces = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(local.formatted("token = \"two words\""), "a.conf"));
        assertTrue(spaces.problems().get(0).contains("sluice.admin.token: the token must be printable ASCII"),
                spaces.problems().toString());
        assertFalse(spaces.getMessage().contains("two words"), "the message does not carry the token");
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "[{index}] {0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {
        "",
        "sluice { }",
        "sluice { upstreams { o { servers = [\"127.0.0.1:1\"] } } }",
        "sluice { listeners = [ {name = a, address = \"127.0.0.1:1\"}, {name = b, address = \"127.0.0.1:2\"} ]\n"
                + " upstreams { o { servers = [\"127.0.0.1:1\"] } }\n routes = [ { listener = a, upstream = o } ] }",
    })
    void load_httpListenerWithoutRoutes_isAnError(String text) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(text, "empty.conf"));
        assertTrue(e.problems().stream().anyMatch(p -> p.contains("sluice.routes: no route serves http listener '")
                && p.contains("sluice.allow-no-routes = true")), e.problems().toString());
    }

    @Test
    void load_withoutRoutes_isAcceptedWhenSaidExplicitly_orWhenEveryListenerIsTcp() {
        SluiceConfig c = ConfigLoader.parse("sluice.allow-no-routes = true", "no-routes.conf");
        assertTrue(c.routes().isEmpty());
        SluiceConfig tcp = ConfigLoader.parse("""
                sluice {
                  listeners = [ { name = l4, mode = tcp, address = "127.0.0.1:9000", upstream = o } ]
                  upstreams { o { servers = ["127.0.0.1:1"] } }
                }
                """, "tcp.conf");
        assertEquals(ListenerMode.TCP, tcp.listeners().get(0).mode());
    }
}
