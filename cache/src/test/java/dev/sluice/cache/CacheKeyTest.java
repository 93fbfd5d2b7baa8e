package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class CacheKeyTest {
    @Test
    void primary_hostCaseAndDefaultPort_queryByPolicy() {
        assertEquals("objects.example/a/b?x=1&y=2",
                CacheKey.primary("Objects.Example:80", "/a/b?x=1&y=2", CacheKey.QueryPolicy.ALL));
        assertEquals("h:8080/a", CacheKey.primary("h:8080", "/a?x=1", CacheKey.QueryPolicy.NONE));
        assertEquals("h/a?y=2&x=1", CacheKey.primary("h", "/a?x=1&z=3&y=2",
                new CacheKey.QueryPolicy.Only(List.of("y", "x"))));
        assertEquals("h/a", CacheKey.primary("h", "/a?z=3", new CacheKey.QueryPolicy.Only(List.of("x"))));
        assertNotEquals(CacheKey.primary("h", "/a?x=1", CacheKey.QueryPolicy.ALL),
                CacheKey.primary("h", "/a?x=2", CacheKey.QueryPolicy.ALL));
    }

    @Test
    void vary_namesNormalised_andEquivalentRequestsShareASecondaryKey() {
        List<String> names = CacheKey.varyNames(TestFields.of("Vary", "Accept-Encoding, accept-language", "Vary", "ACCEPT-ENCODING"));
        assertEquals(List.of("accept-encoding", "accept-language"), names);
        String a = CacheKey.secondary(names, TestFields.of("Accept-Encoding", "gzip,  br", "Accept-Language", "en"));
        String b = CacheKey.secondary(names, TestFields.of("accept-encoding", "BR", "Accept-Encoding", "gzip",
                "Accept-Language", "en"));
        assertEquals(a, b);
        assertNotEquals(a, CacheKey.secondary(names, TestFields.of("Accept-Encoding", "gzip", "Accept-Language", "en")));
        assertNotEquals(a, CacheKey.secondary(names, TestFields.of("Accept-Encoding", "gzip, br", "Accept-Language", "de")));
        assertEquals("", CacheKey.secondary(List.of(), TestFields.of("Accept", "x")));
        // a field absent differs from one present and empty only in being absent: both normalise to nothing
        assertEquals(CacheKey.secondary(names, TestFields.of()), CacheKey.secondary(names,
                TestFields.of("Accept-Encoding", "", "Accept-Language", "")));
    }
}
