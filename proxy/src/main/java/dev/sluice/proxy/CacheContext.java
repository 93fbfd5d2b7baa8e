package dev.sluice.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.sluice.cache.CacheIndex;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.conf.SluiceConfig.CacheConfig;
import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The memory cache of the whole process: one index (any loop looks up and stores), one store of shared memory per
 * event loop (a body lives in the store of the loop that filled it, and any loop sends from it), the fills in
 * progress by primary key (collapsed forwarding) and the keys recently found uncacheable (hit-for-pass).
 *
 * <h2>The memory budget</h2>
 * {@code cache.memory} bounds bodies, heads and index metadata together. The stores, which hold the bodies, are
 * {@link #HEAD_SHARE 7/8} of it, mapped (and locked) at start; heads and metadata live on the Java heap in the other
 * eighth. The index charges each variant its body's reserved bytes plus eight times its head and metadata, and
 * Caffeine keeps the charge within the budget: bodies + 8 x heads &lt;= budget keeps the heads within their eighth
 * however small the bodies are, while the stores' size bounds the bodies (a store that cannot allocate evicts its
 * coldest bodies). So the cache's memory, the stores plus the heads, stays within {@code cache.memory}.
 */
final class CacheContext implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CacheContext.class.getName());
    /** Coldest keys looked at per eviction round when a store cannot allocate. */
    private static final int EVICTION_SCAN = 64;
    /** Eviction rounds before a body is passed through uncached. */
    private static final int EVICTION_ROUNDS = 4;
    /** The budget's share kept for heads and metadata (1/8), and so how many times the index charges them. */
    static final int HEAD_SHARE = 8;

    final CacheConfig config;
    final CacheIndex index;
    final Segments segments;
    final CacheMetrics metrics;
    /** Epoch seconds: the clock freshness is computed with (tests substitute their own). */
    final LongSupplier clock;
    /** Fills in progress, by primary key: a miss for a key in here waits for that fill instead of going upstream. */
    final ConcurrentHashMap<String, Fill> fills = new ConcurrentHashMap<>();
    /**
     * The request field that marks a warm request: Sluice's own request for a key to be stored (a warm job's, or a
     * background validation's). It carries {@link #warmToken}, which only this process knows; a request with the
     * wrong value is an ordinary request, and the field is removed from every request before it goes on.
     */
    static final String WARM_FIELD = dev.sluice.admin.WarmFetch.FIELD;
    /** This process's warm token: 128 random bits, hex. */
    final String warmToken;
    /** Validations running after their stale response was sent (stale-while-revalidate). */
    final BackgroundRevalidation revalidator;
    /** Primary keys whose last response could not be stored: their misses go upstream at once, uncollapsed. */
    private final Cache<String, Boolean> passes;

    private CacheContext(CacheConfig config, Segments segments, MeterRegistry registry, LongSupplier clock,
            java.time.Duration idle) {
        this.config = config;
        this.segments = segments;
        this.index = new CacheIndex(config.memory(), HEAD_SHARE, config.tagHeader());
        this.clock = clock;
        this.passes = Caffeine.newBuilder().maximumSize(65_536).expireAfterWrite(config.hitForPass())
                .executor(Runnable::run).build(); // with hit-for-pass = 0 nothing is put (pass())
        this.metrics = new CacheMetrics(registry, this);
        byte[] random = new byte[16];
        new java.security.SecureRandom().nextBytes(random);
        this.warmToken = java.util.HexFormat.of().formatHex(random);
        this.revalidator = new BackgroundRevalidation(idle, warmToken);
    }

    /**
     * The cache, or null when no route caches or {@code cache.memory} is 0 (logged when routes asked for it).
     *
     * @throws dev.sluice.shm.ShmException when the memory cannot be had (under lock = required, a refused mlock)
     */
    static CacheContext create(SluiceConfig config, int loops, MeterRegistry registry, LongSupplier clock) {
        boolean wanted = config.routes().stream().anyMatch(r -> r.cache().enabled());
        if (!wanted) {
            return null;
        }
        CacheConfig c = config.cache();
        if (c.memory() == 0) {
            LOG.log(System.Logger.Level.WARNING, "cache.memory = 0: routes with cache.enabled forward every request");
            return null;
        }
        long stores = Math.max((long) loops * ShmBuilder.DEFAULT_BLOCK_SIZE, c.memory() - c.memory() / HEAD_SHARE);
        ShmBuilder b = ShmBuilder.newBuilder().totalBytes(stores).loops(loops).name("sluice-cache");
        LockPolicy lock = switch (c.lock()) {
            case OFF -> LockPolicy.OFF;
            case TRY -> LockPolicy.TRY;
            case REQUIRED -> LockPolicy.REQUIRED;
        };
        if (ShmBuilder.memfdAvailable()) {
            b.memfd().lockPolicy(lock);
        } else {
            // Still a cache, from the Java heap: hits are written (no sendfile or splice), fills copy once more.
            LOG.log(System.Logger.Level.WARNING, "memfd unavailable ({0}): the cache keeps bodies on the Java heap,"
                    + " unlocked, and sends hits by copying", String.valueOf(ShmBuilder.memfdUnavailabilityCause()));
            b.heap().lockPolicy(LockPolicy.OFF);
        }
        Segments segments = b.build();
        if (c.maxObjectSize() > segments.store(0).capacity()) {
            LOG.log(System.Logger.Level.WARNING, "cache.max-object-size ({0} bytes) is larger than one event loop''s"
                    + " store ({1} bytes, 7/8 of cache.memory shared by {2} loops): larger bodies pass through uncached",
                    c.maxObjectSize(), segments.store(0).capacity(), loops);
        }
        LOG.log(System.Logger.Level.INFO, "cache: {0} budget, {1} stores of {2} bytes ({3}), {4} bytes locked",
                c.memory(), loops, segments.store(0).capacity(), segments.backing().label(), segments.stats().lockedBytes());
        return new CacheContext(c, segments, registry, clock, config.timeouts().idle());
    }

    /** The store of loop {@code loop}. */
    Store store(int loop) {
        return segments.store(loop);
    }

    /**
     * An extent of {@code size} bytes in {@code store} (owner loop only), evicting the coldest bodies of that store
     * when it is full; null when even that leaves no room (the body then passes through uncached, counted).
     */
    Extent allocate(Store store, long size) {
        if (size > store.capacity()) {
            return null; // evicting everything would not make room
        }
        Extent e = store.allocate(size);
        for (int round = 0; e == null && round < EVICTION_ROUNDS; round++) {
            var removed = index.evictFrom(store, size, EVICTION_SCAN);
            if (removed.entries() == 0) {
                break;
            }
            metrics.evictedForRoom.increment(removed.entries());
            e = store.allocate(size);
        }
        return e;
    }

    boolean passing(String primary) {
        return passes.getIfPresent(primary) != null;
    }

    /** {@code primary}'s misses go upstream uncollapsed for {@code cache.hit-for-pass}. */
    void pass(String primary) {
        if (!config.hitForPass().isZero()) {
            passes.put(primary, Boolean.TRUE);
        }
    }

    void unpass(String primary) {
        passes.invalidate(primary);
    }

    /** Whether {@code value} of a request's {@link #WARM_FIELD} is this process's token (in constant time). */
    boolean warmToken(String value) {
        return value != null && java.security.MessageDigest.isEqual(
                value.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                warmToken.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    /**
     * The admin's purge of keys that may be filling now: marks each fill in progress whose key {@code keys} accepts
     * ({@link Fill#purge}); returns how many. Called before the index is purged (see {@link Fill#publish}).
     */
    int purgeFills(java.util.function.Predicate<String> keys, String tag, boolean soft) {
        int n = 0;
        for (Fill f : fills.values()) {
            if (keys.test(f.primary)) {
                f.purge(tag, soft);
                n++;
            }
        }
        return n;
    }

    long nowSeconds() {
        return clock.getAsLong();
    }

    @Override
    public void close() {
        segments.close();
    }
}
