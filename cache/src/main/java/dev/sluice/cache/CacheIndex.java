package dev.sluice.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.sluice.shm.Store;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The one process-wide index: primary key to the stored variants of that URI, in Caffeine (W-TinyLFU admission,
 * weighted by the bytes a key's variants hold, bodies, heads and metadata together). Any loop looks up and stores;
 * a body lives in the filling loop's store, and whoever removes a variant from the index frees its extent, which
 * drains until its last send lets go and then goes back to its owner loop.
 * <p>
 * Caffeine's maintenance (eviction included) runs on the calling thread, not on a pool: an evicted body is freed
 * as part of the store that caused it, so memory never waits on another thread to come back.
 */
public final class CacheIndex {
    /** What {@link #lookup} found. */
    public sealed interface Lookup {
        /** A variant for this request (its freshness is the caller's to judge). */
        record Hit(StoredResponse response) implements Lookup {}

        /** Nothing stored for this URI. */
        record UriMiss() implements Lookup {}

        /** Variants of this URI are stored, but none matches the request's Vary fields. */
        record VaryMiss(List<String> varyNames) implements Lookup {}
    }

    private static final Lookup.UriMiss URI_MISS = new Lookup.UriMiss();

    private final Cache<String, Variants> cache;
    /** Heap bytes of the heads and metadata of the variants in the index. */
    private final LongAdder headBytes = new LongAdder();
    private final LongAdder evictions = new LongAdder();
    private final LongAdder evictedBytes = new LongAdder();
    /** Tag to keys, changed only inside the cache's atomic operation on the key (see {@link TagIndex}). */
    private final TagIndex tags;

    /** The variants of one URI: a small immutable list, replaced whole on every change. */
    private record Variants(List<StoredResponse> list) {
        long weight() {
            long w = 0;
            for (StoredResponse r : list) {
                w += r.weight();
            }
            return w;
        }

        /** The weight charged against the budget: bodies as they are, heads {@code headFactor} times. */
        long charge(int headFactor) {
            long w = 0;
            for (StoredResponse r : list) {
                w += r.weight() + (headFactor - 1) * r.headBytes();
            }
            return w;
        }
    }

    /** @param maxBytes the most the variants may weigh, bodies, heads and metadata together */
    public CacheIndex(long maxBytes) {
        this(maxBytes, 1);
    }

    /**
     * @param maxBytes   the most the variants may be charged
     * @param headFactor how many times a variant's head and metadata are charged: with heads given {@code 1 / k} of
     *                   a budget whose bodies live elsewhere (shared memory sized to the rest), charging them {@code
     *                   k} times keeps them within that share however small the bodies are
     */
    public CacheIndex(long maxBytes, int headFactor) {
        this(maxBytes, headFactor, null);
    }

    /**
     * @param tagHeader the response field whose values tag a variant for {@link #taggedKeys purges by tag}
     *                  (space or comma separated); null or blank: no tags are indexed
     */
    public CacheIndex(long maxBytes, int headFactor, String tagHeader) {
        this.tags = new TagIndex(tagHeader);
        if (headFactor < 1) {
            throw new IllegalArgumentException("headFactor must be at least 1: " + headFactor);
        }
        this.cache = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((String k, Variants v) -> (int) Math.min(Integer.MAX_VALUE, v.charge(headFactor)))
                .executor(Runnable::run)
                .evictionListener((String k, Variants v, RemovalCause cause) -> {
                    if (v != null && cause.wasEvicted()) {
                        tags.update(k, v.list(), List.of()); // inside the eviction's atomic removal of k
                        evictions.increment();
                        evictedBytes.add(v.weight());
                        v.list().forEach(this::free);
                    }
                })
                .build();
    }

    /** The variant of {@code primary} whose Vary fields match {@code request}. */
    public Lookup lookup(String primary, Fields request) {
        Variants v = cache.getIfPresent(primary);
        if (v == null || v.list().isEmpty()) {
            return URI_MISS;
        }
        // every variant of a URI varies on the same fields (put drops the others): one secondary key
        List<String> varyNames = v.list().get(0).varyNames();
        String secondary = CacheKey.secondary(varyNames, request);
        for (StoredResponse r : v.list()) {
            if (r.secondary().equals(secondary)) {
                return new Lookup.Hit(r);
            }
        }
        return new Lookup.VaryMiss(varyNames);
    }

    /**
     * Stores a variant, replacing one with the same secondary key (whose body is freed). The variants of a URI all
     * follow the newest response's Vary: stored ones that vary on other fields are dropped (RFC 9111 4.1 keys them by
     * the response's Vary).
     */
    public void put(StoredResponse response) {
        List<StoredResponse> dropped = new ArrayList<>();
        cache.asMap().compute(response.primary(), (k, old) -> {
            List<StoredResponse> list = new ArrayList<>();
            list.add(response);
            if (old != null) {
                for (StoredResponse r : old.list()) {
                    if (r.secondary().equals(response.secondary()) || !r.varyNames().equals(response.varyNames())) {
                        dropped.add(r);
                    } else {
                        list.add(r);
                    }
                }
            }
            Variants now = new Variants(List.copyOf(list));
            tags.update(k, old == null ? List.of() : old.list(), now.list());
            return now;
        });
        headBytes.add(response.headBytes());
        dropped.forEach(this::free);
        cache.cleanUp(); // evict now, on this thread, rather than at the next write
    }

    /**
     * Swaps a stored variant for {@code updated}, which keeps the same body (a 304 that refreshed the head, a soft
     * purge that made it stale): the body is not freed, sends of the old record go on. False, and nothing changes,
     * when {@code old} is no longer in the index (evicted, purged or replaced meanwhile); the caller then owns nothing
     * new, since {@code updated}'s body is {@code old}'s.
     */
    public boolean replace(StoredResponse old, StoredResponse updated) {
        if (old.body() != updated.body() || !old.primary().equals(updated.primary())
                || !old.secondary().equals(updated.secondary())) {
            throw new IllegalArgumentException("replace keeps the key and the body of " + old.primary());
        }
        boolean[] swapped = {false};
        cache.asMap().computeIfPresent(old.primary(), (k, v) -> {
            List<StoredResponse> list = new ArrayList<>(v.list());
            int i = 0;
            while (i < list.size() && list.get(i) != old) { // the record itself, not an equal one
                i++;
            }
            if (i == list.size()) {
                return v;
            }
            list.set(i, updated);
            swapped[0] = true;
            Variants now = new Variants(List.copyOf(list));
            tags.update(k, v.list(), now.list()); // a refreshed head may carry other tags
            return now;
        });
        if (swapped[0]) {
            headBytes.add(updated.headBytes() - old.headBytes());
            cache.cleanUp();
        }
        return swapped[0];
    }

    /** The stored variants of {@code primary} (empty when none), for inspection and soft purges. */
    public List<StoredResponse> variants(String primary) {
        Variants v = cache.getIfPresent(primary);
        return v == null ? List.of() : v.list();
    }

    /** Removes every variant of {@code primary}; returns their count and weight. */
    public Removed invalidate(String primary) {
        Variants v = remove(primary, null);
        if (v == null) {
            return Removed.NONE;
        }
        v.list().forEach(this::free);
        return new Removed(v.list().size(), v.weight());
    }

    /** What an invalidation or eviction removed. */
    public record Removed(int entries, long bytes) {
        public static final Removed NONE = new Removed(0, 0);
    }

    /**
     * Makes room in {@code store}: removes the coldest variants whose bodies live there (Caffeine's eviction order)
     * until their bodies' reserved bytes reach {@code bytes}, looking at most at {@code scan} of the coldest keys.
     * A freed body's blocks come back when its sends let go and the store next allocates or reclaims.
     */
    public Removed evictFrom(Store store, long bytes, int scan) {
        var eviction = cache.policy().eviction();
        if (eviction.isEmpty()) {
            return Removed.NONE;
        }
        Map<String, Variants> coldest = eviction.get().coldest(scan);
        int entries = 0;
        long freed = 0;
        for (var e : coldest.entrySet()) {
            if (freed >= bytes) {
                break;
            }
            boolean here = e.getValue().list().stream().anyMatch(r -> r.body() != null && r.body().store() == store);
            if (here && remove(e.getKey(), e.getValue()) != null) {
                for (StoredResponse r : e.getValue().list()) {
                    free(r);
                    entries++;
                    if (r.body() != null && r.body().store() == store) {
                        freed += r.body().capacity();
                    }
                }
                evictions.increment();
                evictedBytes.add(e.getValue().weight());
            }
        }
        return new Removed(entries, freed);
    }

    /**
     * Removes {@code primary}'s variants (only when they are still {@code expected}, unless that is null) and
     * unlists its tags in the same atomic operation; returns what was removed, or null. The caller frees them.
     */
    private Variants remove(String primary, Variants expected) {
        Variants[] removed = {null};
        cache.asMap().computeIfPresent(primary, (k, v) -> {
            if (expected != null && v != expected) {
                return v;
            }
            tags.update(k, v.list(), List.of());
            removed[0] = v;
            return null;
        });
        return removed[0];
    }

    /**
     * Removes one variant (the record itself, not an equal one) and frees its body; the key's other variants stay.
     * False when it is no longer in the index.
     */
    public boolean remove(StoredResponse r) {
        boolean[] done = {false};
        cache.asMap().computeIfPresent(r.primary(), (k, v) -> {
            List<StoredResponse> rest = new ArrayList<>(v.list().size());
            for (StoredResponse x : v.list()) {
                if (x != r) {
                    rest.add(x);
                }
            }
            if (rest.size() == v.list().size()) {
                return v;
            }
            done[0] = true;
            Variants now = new Variants(List.copyOf(rest));
            tags.update(k, v.list(), now.list());
            return rest.isEmpty() ? null : now;
        });
        if (done[0]) {
            free(r);
        }
        return done[0];
    }

    // ---------------------------------------------------------------- for the admin API (never on the data path)

    /** The field whose values tag variants, or null when tags are off. */
    public String tagHeader() {
        return tags.header();
    }

    /** The tags of one variant, as indexed. */
    public List<String> tagsOf(StoredResponse r) {
        return tags.tagsOf(r);
    }

    /** The keys with a variant tagged {@code tag} (a snapshot; the caller checks the variants it finds). */
    public List<String> taggedKeys(String tag) {
        return tags.keys(tag);
    }

    /** Every key starting with {@code prefix}, in no order: a scan of the whole index. */
    public List<String> keysStartingWith(String prefix) {
        List<String> out = new ArrayList<>();
        for (String k : cache.asMap().keySet()) {
            if (k.startsWith(prefix)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * One page of keys in key order: the first {@code limit} keys after {@code after} ("" = from the start) that
     * start with {@code prefix}. A scan of the whole index that keeps only {@code limit} keys, so a page costs
     * O(keys x log limit) time and O(limit) memory however large the index.
     */
    public List<String> page(String prefix, String after, int limit) {
        java.util.TreeSet<String> best = new java.util.TreeSet<>();
        for (String k : cache.asMap().keySet()) {
            if (k.startsWith(prefix) && k.compareTo(after) > 0) {
                if (best.size() < limit) {
                    best.add(k);
                } else if (limit > 0 && k.compareTo(best.last()) < 0) {
                    best.pollLast();
                    best.add(k);
                }
            }
        }
        return List.copyOf(best);
    }

    /** Gives a variant that left the index back: its body drains to its store, its head leaves the count. */
    private void free(StoredResponse r) {
        headBytes.add(-r.headBytes());
        if (r.body() != null) {
            r.body().free();
        }
    }

    /** Heap bytes the heads and metadata of the stored variants hold. */
    public long headBytes() {
        return headBytes.sum();
    }

    /** Keys stored (URIs, not variants). */
    public long keys() {
        cache.cleanUp();
        return cache.estimatedSize();
    }

    /** What the variants are charged by the weigher (heads counted {@code headFactor} times). */
    public long weight() {
        var eviction = cache.policy().eviction();
        return eviction.isPresent() && eviction.get().weightedSize().isPresent() ? eviction.get().weightedSize().getAsLong() : 0;
    }

    public long evictions() {
        return evictions.sum();
    }

    public long evictedBytes() {
        return evictedBytes.sum();
    }
}
