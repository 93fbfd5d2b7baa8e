package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The index over real (memfd) stores: lookups by Vary, and every way a variant leaves frees its body exactly once. */
class CacheIndexTest {
    private static final long T = 1_796_000_000L;
    private Segments segments;
    private Store store;

    @BeforeEach
    void stores() {
        segments = ShmBuilder.newBuilder().totalBytes(8 << 20).loops(2).memfd().lockPolicy(LockPolicy.OFF).build();
        store = segments.store(0);
    }

    @AfterEach
    void close() {
        segments.close();
    }

    private StoredResponse stored(String primary, List<String> vary, Fields req, long bodyBytes) {
        Extent body = store.allocate(bodyBytes);
        assertNotNull(body, "the store has room");
        Freshness f = Freshness.of(TestFields.of("Cache-Control", "max-age=60"), CacheControl.parse("max-age=60"), 200, T, T, 0, 0, false);
        return new StoredResponse(primary, CacheKey.secondary(vary, req), vary, 200, "OK", List.of("Content-Length"),
                List.of(Long.toString(bodyBytes)), f, CacheControl.parse("max-age=60"), body, bodyBytes, new AtomicLong());
    }

    @Test
    void lookup_hitUriMissVaryMiss() {
        CacheIndex index = new CacheIndex(64 << 20);
        List<String> vary = List.of("accept-encoding");
        StoredResponse gzip = stored("h/a", vary, TestFields.of("Accept-Encoding", "gzip"), 1000);
        index.put(gzip);
        assertInstanceOf(CacheIndex.Lookup.UriMiss.class, index.lookup("h/b", TestFields.of()));
        var hit = assertInstanceOf(CacheIndex.Lookup.Hit.class, index.lookup("h/a", TestFields.of("accept-encoding", "GZIP")));
        assertSame(gzip, hit.response());
        var miss = assertInstanceOf(CacheIndex.Lookup.VaryMiss.class, index.lookup("h/a", TestFields.of("Accept-Encoding", "br")));
        assertEquals(vary, miss.varyNames());
        StoredResponse br = stored("h/a", vary, TestFields.of("Accept-Encoding", "br"), 1000);
        index.put(br);
        assertSame(br, ((CacheIndex.Lookup.Hit) index.lookup("h/a", TestFields.of("Accept-Encoding", "br"))).response());
        assertSame(gzip, ((CacheIndex.Lookup.Hit) index.lookup("h/a", TestFields.of("Accept-Encoding", "gzip"))).response());
        assertEquals(1, index.keys());
    }

    @Test
    void replacingAVariant_freesTheOldBody_butASendStillHoldsIt() {
        CacheIndex index = new CacheIndex(64 << 20);
        StoredResponse first = stored("h/a", List.of(), TestFields.of(), 4096);
        index.put(first);
        assertTrue(first.body().tryRetain(), "a hit's send takes a reference");
        index.put(stored("h/a", List.of(), TestFields.of(), 4096));
        assertEquals(Extent.State.DRAINING, first.body().state(), "freed, but the send still reads it");
        assertFalse(first.body().tryRetain(), "no new send may start from a replaced body");
        first.body().release();
        store.reclaim();
        assertEquals(Extent.State.FREE, first.body().state());
    }

    @Test
    void replace_swapsTheHeadAndKeepsTheBody_unlessTheVariantLeftMeanwhile() {
        CacheIndex index = new CacheIndex(64 << 20);
        StoredResponse first = stored("h/a", List.of(), TestFields.of(), 4096);
        index.put(first);
        StoredResponse refreshed = first.withHead(List.of("Content-Length", "ETag"), List.of("4096", "\"v1\""),
                first.freshness(), first.control());
        assertTrue(index.replace(first, refreshed));
        assertSame(refreshed, ((CacheIndex.Lookup.Hit) index.lookup("h/a", TestFields.of())).response());
        assertEquals(Extent.State.LIVE, first.body().state(), "the body lives on under the new head");
        assertEquals(refreshed.headBytes(), index.headBytes());
        assertFalse(index.replace(first, first.withHead(List.of(), List.of(), first.freshness(), first.control())),
                "the old record is no longer there: nothing changes");
        assertSame(refreshed, index.variants("h/a").get(0));
        index.invalidate("h/a");
        assertFalse(index.replace(refreshed, refreshed.withHead(List.of(), List.of(), first.freshness(), first.control())));
        assertEquals(Extent.State.FREE, reclaimed(first), "freed once, by the invalidation");
        assertEquals(0, index.headBytes());
    }

    @Test
    void aResponseVaryingOnOtherFields_dropsTheVariantsKeyedTheOldWay() {
        CacheIndex index = new CacheIndex(64 << 20);
        StoredResponse old = stored("h/a", List.of("accept"), TestFields.of("Accept", "a"), 100);
        index.put(old);
        index.put(stored("h/a", List.of("accept-language"), TestFields.of("Accept-Language", "en"), 100));
        assertEquals(Extent.State.FREE, reclaimed(old));
    }

    @Test
    void invalidate_removesEveryVariantAndFreesThem() {
        CacheIndex index = new CacheIndex(64 << 20);
        List<String> vary = List.of("accept");
        StoredResponse a = stored("h/a", vary, TestFields.of("Accept", "a"), 5000);
        StoredResponse b = stored("h/a", vary, TestFields.of("Accept", "b"), 5000);
        index.put(a);
        index.put(b);
        CacheIndex.Removed removed = index.invalidate("h/a");
        assertEquals(2, removed.entries());
        assertTrue(removed.bytes() >= 2 * 8192, removed.toString());
        assertEquals(Extent.State.FREE, reclaimed(a));
        assertEquals(Extent.State.FREE, reclaimed(b));
        assertInstanceOf(CacheIndex.Lookup.UriMiss.class, index.lookup("h/a", TestFields.of("Accept", "a")));
        assertEquals(CacheIndex.Removed.NONE, index.invalidate("h/a"));
    }

    @Test
    void overTheWeightBudget_theIndexEvictsAndFreesBodies() {
        long perEntry = stored("h/probe", List.of(), TestFields.of(), 64 << 10).weight();
        CacheIndex index = new CacheIndex(perEntry * 10);
        List<StoredResponse> all = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            StoredResponse r = stored("h/" + i, List.of(), TestFields.of(), 64 << 10);
            all.add(r);
            index.put(r);
            store.reclaim();
        }
        assertTrue(index.weight() <= perEntry * 10, index.weight() + " > " + perEntry * 10);
        assertTrue(index.evictions() >= 29, index.evictions() + " evictions");
        long live = all.stream().filter(r -> r.body().state() == Extent.State.LIVE).count();
        assertEquals(index.keys(), live, "every variant out of the index had its body freed, and only those");
    }

    /** Heads charged eight times stay within an eighth of the budget, however small the bodies. */
    @Test
    void headsChargedByAFactor_stayWithinTheirShare() {
        long budget = 256 << 10;
        CacheIndex index = new CacheIndex(budget, 8);
        for (int i = 0; i < 2000; i++) {
            index.put(stored("h/" + i, List.of(), TestFields.of(), 1));
            store.reclaim();
            assertTrue(index.headBytes() <= budget / 8, index.headBytes() + " head bytes after " + i);
        }
        assertTrue(index.evictions() > 1000);
        long heads = index.headBytes();
        assertTrue(heads > budget / 16, "the heads' share is used: " + heads);
        for (int i = 0; i < 2000; i++) {
            index.invalidate("h/" + i);
        }
        assertEquals(0, index.headBytes(), "every head that left the index was subtracted once");
    }

    @Test
    void evictFrom_freesTheColdestBodiesOfThatStoreOnly() {
        CacheIndex index = new CacheIndex(64 << 20);
        Store other = segments.store(1);
        Extent elsewhere = other.allocate(4096);
        Freshness f = Freshness.of(TestFields.of(), CacheControl.parse("max-age=60"), 200, T, T, 0, 0, false);
        StoredResponse remote = new StoredResponse("h/remote", "", List.of(), 200, "OK", List.of(), List.of(), f,
                CacheControl.NONE, elsewhere, 4096, new AtomicLong());
        index.put(remote);
        for (int i = 0; i < 8; i++) {
            index.put(stored("h/" + i, List.of(), TestFields.of(), 100_000));
        }
        CacheIndex.Removed r = index.evictFrom(store, 250_000, 64);
        assertTrue(r.bytes() >= 250_000, r.toString());
        assertTrue(r.entries() >= 3 && r.entries() < 8, r.toString());
        assertEquals(Extent.State.LIVE, elsewhere.state(), "another loop's body is not touched");
        assertEquals(9 - r.entries(), index.keys());
    }

    private Extent.State reclaimed(StoredResponse r) {
        store.reclaim();
        return r.body().state();
    }

    private StoredResponse tagged(String primary, List<String> vary, Fields req, String tags) {
        StoredResponse plain = stored(primary, vary, req, 1000);
        return plain.withHead(List.of("Content-Length", "Surrogate-Key"), List.of("1000", tags), plain.freshness(),
                plain.control());
    }

    /** The tag index follows every way variants come and go: put, a put that replaces, replace, remove, eviction. */
    @Test
    void tagsAreIndexedAtStoreAndUnlistedWhenTheLastVariantCarryingThemLeaves() {
        CacheIndex index = new CacheIndex(64 << 20, 1, "Surrogate-Key");
        List<String> vary = List.of("accept-encoding");
        StoredResponse gzip = tagged("h/a", vary, TestFields.of("Accept-Encoding", "gzip"), "t1 t2");
        StoredResponse br = tagged("h/a", vary, TestFields.of("Accept-Encoding", "br"), "t2,t3");
        index.put(gzip);
        index.put(br);
        index.put(tagged("h/b", List.of(), TestFields.of(), "t1"));
        assertEquals(List.of("t1", "t2"), index.tagsOf(gzip));
        assertEquals(java.util.Set.of("h/a", "h/b"), java.util.Set.copyOf(index.taggedKeys("t1")));
        assertEquals(List.of("h/a"), index.taggedKeys("t3"));
        assertTrue(index.remove(gzip), "one variant leaves");
        assertEquals(List.of("h/b"), index.taggedKeys("t1"), "h/a's remaining variant is not tagged t1");
        assertEquals(List.of("h/a"), index.taggedKeys("t2"));
        StoredResponse retagged = br.withHead(List.of("Surrogate-Key"), List.of("t9"), br.freshness(), br.control());
        assertTrue(index.replace(br, retagged));
        assertEquals(List.of(), index.taggedKeys("t3"));
        assertEquals(List.of("h/a"), index.taggedKeys("t9"));
        index.invalidate("h/a");
        assertEquals(List.of(), index.taggedKeys("t9"));
        assertEquals(List.of("h/b"), index.taggedKeys("t1"));

        CacheIndex small = new CacheIndex(64 << 10, 1, "Surrogate-Key"); // room for a few of the 64
        for (int i = 0; i < 64; i++) {
            small.put(tagged("h/" + i, List.of(), TestFields.of(), "all"));
        }
        assertTrue(small.evictions() > 0, "the budget evicted some");
        assertEquals(small.keys(), small.taggedKeys("all").size(), "evicted keys left the tag index too");
    }

    @Test
    void pagesAreInKeyOrder() {
        CacheIndex index = new CacheIndex(64 << 20);
        for (String k : List.of("h/c", "h/a", "x/a", "h/b", "h/d")) {
            index.put(stored(k, List.of(), TestFields.of(), 100));
        }
        assertEquals(List.of("h/a", "h/b"), index.page("h/", "", 2));
        assertEquals(List.of("h/c", "h/d"), index.page("h/", "h/b", 2));
        assertEquals(List.of(), index.page("h/", "h/d", 2));
        assertEquals(List.of("x/a"), index.page("x", "", 10));
        assertEquals(java.util.Set.of("h/a", "h/b", "h/c", "h/d"), java.util.Set.copyOf(index.keysStartingWith("h/")));
    }
}
