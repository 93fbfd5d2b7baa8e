package dev.sluice.proxy;

import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RFC 9111 4.2.2 (heuristic freshness) and section 3 with RFC 9110 15.1 (which statuses are stored), through real
 * sockets with the loadtest origin.
 */
class Rfc9111FreshnessTest {
    final AtomicLong clock = new AtomicLong(System.currentTimeMillis() / 1000);

    Fixture fixture(String routeCache) throws Exception {
        return new Fixture(clock::get, Fixture.simple("""
                sluice.routes = [ { name = v, path-prefix = "/v/", upstream = origin, cache { enabled = true, %s } },
                                  { name = main, upstream = origin } ]
                sluice.cache.memory = 64MiB
                """.formatted(routeCache)), "o1");
    }

    @Test
    void section4_2_2_heuristic_isTenPercentOfTheTimeSinceLastModified_cappedByHeuristicMax() throws Exception {
        try (Fixture f = fixture("")) {
            long lm = clock.get() - 100_000;
            TestClient.Response r = get(f, "/v/h.bin?size=10k&lm=" + lm);
            assertTrue(status(r).matches("sluice; fwd=uri-miss; fwd-status=200; stored; ttl=(10000|9999|9998)"), status(r));
            clock.addAndGet(100);
            assertTrue(status(get(f, "/v/h.bin?size=10k&lm=" + lm)).startsWith("sluice; hit"));
            long old = clock.get() - 100L * 86_400;
            TestClient.Response capped = get(f, "/v/old.bin?size=10k&lm=" + old);
            assertTrue(status(capped).matches(".*stored; ttl=86[34]\\d\\d"), "capped by the default heuristic-max 1d: " + status(capped));
            assertEquals(1, get(f, "/v/h.bin?size=10k&lm=" + lm).count("Cache-Status"));
        }
    }

    @Test
    void section4_2_2_heuristicMaxZero_turnsTheHeuristicOff_theResponseIsOnlyStoredToBeValidated() throws Exception {
        try (Fixture f = fixture("heuristic-max = 0s")) {
            long lm = clock.get() - 100_000;
            TestClient.Response r = get(f, "/v/h0.bin?size=10k&lm=" + lm);
            assertTrue(status(r).matches(".*stored; ttl=(0|-1)"), status(r));
            assertTrue(status(get(f, "/v/h0.bin?size=10k&lm=" + lm)).startsWith("sluice; fwd=stale; fwd-status=304"));
        }
    }

    @Test
    void section4_2_1_explicitFreshness_isUsedBeforeTheHeuristic() throws Exception {
        try (Fixture f = fixture("")) {
            TestClient.Response r = get(f, "/v/x.bin?size=1k&cc=max-age%3D5&lm=" + (clock.get() - 100_000));
            assertTrue(status(r).matches(".*stored; ttl=(5|4)"), status(r));
        }
    }

    @ParameterizedTest(name = "RFC 9111 3: status {0} with explicit freshness is stored and served")
    @ValueSource(ints = {203, 300, 301, 308, 404, 405, 410, 414, 501})
    void section3_cacheableStatuses_withExplicitFreshness_areStored(int code) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/v/s" + code + ".bin?size=2k&status=" + code + "&cc=max-age%3D60";
            TestClient.Response miss = get(f, target);
            assertEquals(code, miss.status);
            assertTrue(status(miss).contains("stored"), status(miss));
            TestClient.Response hit = get(f, target);
            assertEquals(code, hit.status);
            assertTrue(status(hit).startsWith("sluice; hit"), status(hit));
            assertEquals(1, f.upstreamRequests());
        }
    }

    @ParameterizedTest(name = "RFC 9111 3: status {0} with only a Last-Modified is not stored (not heuristically cacheable)")
    @ValueSource(ints = {302, 307, 403, 500, 503})
    void section3_otherStatuses_withoutExplicitFreshness_areNotStored(int code) throws Exception {
        try (Fixture f = fixture("")) {
            String target = "/v/n" + code + ".bin?size=2k&status=" + code + "&lm=" + (clock.get() - 100_000);
            TestClient.Response r = get(f, target);
            assertEquals(code, r.status);
            assertTrue(status(r).endsWith("detail=no-freshness"), status(r));
        }
    }
}
