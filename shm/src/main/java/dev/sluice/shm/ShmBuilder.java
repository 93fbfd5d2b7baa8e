package dev.sluice.shm;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Builds the per-loop {@link Store}s from one memory budget:
 *
 * <pre>{@code
 * Segments segments = ShmBuilder.newBuilder()
 *         .totalBytes(8L << 30)          // hard budget across all loops
 *         .loops(4)                      // one store per event loop
 *         .memfd()                       // or posixShm("sluice"), or heap()
 *         .lockPolicy(LockPolicy.TRY)
 *         .build();
 * Store mine = segments.store(loopIndex);
 * }</pre>
 *
 * Each loop gets {@code totalBytes / loops}, rounded down to the block size, so the stores together never exceed the
 * budget. Settings are validated when set (bad values) and in {@link #build()} (combinations), with messages that
 * name the setting.
 */
public final class ShmBuilder {
    /** Default allocation unit: one 4 KiB page, so every extent can be punched out and spliced from. */
    public static final int DEFAULT_BLOCK_SIZE = 4096;
    private static final int MIN_BLOCK_SIZE = 64;
    private static final int MAX_BLOCK_SIZE = 1 << 30;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,200}");

    private long totalBytes = -1;
    private int loops = 1;
    private Backing backing = Backing.MEMFD;
    private String shmPrefix;
    private LockPolicy lockPolicy = LockPolicy.TRY;
    private boolean populate = true;
    private int blockSize = DEFAULT_BLOCK_SIZE;
    private String name = "sluice";

    private ShmBuilder() {}

    /** A builder with defaults: 1 loop, memfd, lock policy try, populate on, 4 KiB blocks, name "sluice". */
    public static ShmBuilder newBuilder() {
        return new ShmBuilder();
    }

    /** Whether memfd segments can be created here (Linux, native access enabled); probed once. */
    public static boolean memfdAvailable() {
        return Native.isAvailable();
    }

    /** Why {@link #memfdAvailable()} is false, or {@code null}. */
    public static Throwable memfdUnavailabilityCause() {
        return Native.unavailabilityCause();
    }

    /** The hard memory budget, shared equally by the loops. Required. */
    public ShmBuilder totalBytes(long totalBytes) {
        if (totalBytes <= 0) {
            throw new IllegalArgumentException(String.format("totalBytes must be positive: %d", totalBytes));
        }
        this.totalBytes = totalBytes;
        return this;
    }

    /** How many event loops, i.e. stores. Default 1. */
    public ShmBuilder loops(int loops) {
        if (loops <= 0) {
            throw new IllegalArgumentException(String.format("loops must be positive: %d", loops));
        }
        this.loops = loops;
        return this;
    }

    /** Anonymous memfd segments (the default). */
    public ShmBuilder memfd() {
        this.backing = Backing.MEMFD;
        this.shmPrefix = null;
        return this;
    }

    /**
     * Named segments {@code /dev/shm/<prefix>-<loop>}, created exclusively (start-up fails if one exists) and
     * unlinked on close.
     */
    public ShmBuilder posixShm(String prefix) {
        if (prefix == null || !NAME.matcher(prefix).matches()) {
            throw new IllegalArgumentException(String.format(
                    "posix shm prefix must be 1-200 of [A-Za-z0-9._-]: '%s'", prefix));
        }
        this.backing = Backing.POSIX_SHM;
        this.shmPrefix = prefix;
        return this;
    }

    /** Java heap stores (no fd, no locking): for tests and machines without memfd. */
    public ShmBuilder heap() {
        this.backing = Backing.HEAP;
        this.shmPrefix = null;
        return this;
    }

    /** mlock policy; default {@link LockPolicy#TRY}. {@link Backing#HEAP} accepts only try (ignored) and off. */
    public ShmBuilder lockPolicy(LockPolicy lockPolicy) {
        if (lockPolicy == null) {
            throw new NullPointerException("lockPolicy");
        }
        this.lockPolicy = lockPolicy;
        return this;
    }

    /**
     * Whether to fault every page in at start-up (MAP_POPULATE), so the first fills do not take page faults and the
     * budget is committed up front. Default on; locking populates anyway.
     */
    public ShmBuilder populate(boolean populate) {
        this.populate = populate;
        return this;
    }

    /**
     * Allocation unit in bytes: a power of two, at least 64; for file-backed stores a multiple of the page size,
     * because spliced extents are punched out in whole pages. Default 4096.
     */
    public ShmBuilder blockSize(int blockSize) {
        if (Integer.bitCount(blockSize) != 1 || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
            throw new IllegalArgumentException(String.format(
                    "blockSize must be a power of two in [%d, %d]: %d", MIN_BLOCK_SIZE, MAX_BLOCK_SIZE, blockSize));
        }
        this.blockSize = blockSize;
        return this;
    }

    /** Name prefix of the stores ({@code <name>-<loop>}), shown in logs and /proc/<pid>/maps. Default "sluice". */
    public ShmBuilder name(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(String.format("name must be 1-200 of [A-Za-z0-9._-]: '%s'", name));
        }
        this.name = name;
        return this;
    }

    /** Per-loop capacity the current settings give. */
    long perLoopBytes() {
        return (totalBytes / loops) / blockSize * blockSize;
    }

    /**
     * Creates every store, or none: when one fails, those already created are closed before the exception leaves.
     *
     * @throws IllegalStateException on inconsistent settings
     * @throws ShmException         when the kernel refuses (with its reason), including a refused mlock under
     *                               {@link LockPolicy#REQUIRED}
     */
    public Segments build() {
        if (totalBytes < 0) {
            throw new IllegalStateException("totalBytes is required");
        }
        long perLoop = perLoopBytes();
        if (perLoop <= 0) {
            throw new IllegalStateException(String.format(
                    "totalBytes %d over %d loops is less than one %d-byte block per loop", totalBytes, loops,
                    blockSize));
        }
        if (backing == Backing.HEAP) {
            if (lockPolicy == LockPolicy.REQUIRED) {
                throw new IllegalStateException("heap stores cannot be locked: use lock policy try or off");
            }
            if (perLoop > HeapStore.MAX_CAPACITY) {
                throw new IllegalStateException(String.format(
                        "heap stores hold at most %d bytes each; %d bytes over %d loops is %d per loop",
                        HeapStore.MAX_CAPACITY, totalBytes, loops, perLoop));
            }
        } else {
            Native.ensureAvailable();
            int page = Native.pageSize();
            if (blockSize % page != 0) {
                throw new IllegalStateException(String.format(
                        "blockSize %d must be a multiple of the page size %d for %s stores (spliced extents are "
                                + "punched out in whole pages)", blockSize, page, backing.label()));
            }
        }
        if (perLoop / blockSize > Integer.MAX_VALUE) {
            throw new IllegalStateException(String.format(
                    "%d bytes per loop is more than 2^31-1 blocks of %d bytes: raise blockSize", perLoop, blockSize));
        }
        List<Store> stores = new ArrayList<>(loops);
        boolean ok = false;
        try {
            for (int loop = 0; loop < loops; loop++) {
                String storeName = name + "-" + loop;
                stores.add(switch (backing) {
                    case HEAP -> new HeapStore(storeName, loop, perLoop, blockSize);
                    case MEMFD -> MemfdStore.open(storeName, loop, perLoop, blockSize, backing, null, lockPolicy,
                            populate);
                    case POSIX_SHM -> MemfdStore.open(storeName, loop, perLoop, blockSize, backing,
                            "/dev/shm/" + shmPrefix + "-" + loop, lockPolicy, populate);
                });
            }
            ok = true;
            return new Segments(stores, totalBytes, backing, lockPolicy);
        } finally {
            if (!ok) {
                for (Store store : stores) {
                    store.close();
                }
            }
        }
    }
}
