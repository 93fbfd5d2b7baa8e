package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CacheStatusTest {
    @Test
    void rfc9211Members() {
        assertEquals("sluice; hit; ttl=42", CacheStatus.hit(42, null));
        assertEquals("sluice; hit; ttl=-3; detail=stale-while-revalidate", CacheStatus.hit(-3, "stale-while-revalidate"));
        assertEquals("sluice; fwd=miss; fwd-status=200; stored; ttl=3600",
                CacheStatus.forward(CacheStatus.Fwd.MISS, 200, true, 3600, null));
        assertEquals("sluice; fwd=uri-miss; fwd-status=200; detail=no-store",
                CacheStatus.forward(CacheStatus.Fwd.URI_MISS, 200, false, 0, "no-store"));
        assertEquals("sluice; fwd=vary-miss; detail=\"upstream \\\"x\\\" reset\"",
                CacheStatus.forward(CacheStatus.Fwd.VARY_MISS, 0, false, 0, "upstream \"x\" reset"));
        assertEquals("sluice; fwd=uri-miss; fwd-status=200; collapsed; ttl=60",
                CacheStatus.collapsed(CacheStatus.Fwd.URI_MISS, 200, 60));
    }
}
