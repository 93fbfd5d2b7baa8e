package dev.sluice.shm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What both stores share: the allocator, completion-tracked reuse and the gauges. Subclasses provide the segment and
 * how to make a spliced-from region safe to rewrite.
 *
 * <h2>How a freed extent gets back to the allocator without a lock</h2>
 * The allocator belongs to the owner loop. {@link ExtentImpl#free()} and {@link ExtentImpl#release()} may run on any
 * thread, so they never touch it: they push the extent onto one of two lock-free stacks (Treiber stacks, linked
 * through fields of the extent itself, so pushing allocates nothing):
 * <ul>
 *   <li>{@code freed}: every extent, once, when it is freed;</li>
 *   <li>{@code drained}: an extent whose last reference was released <em>after</em> it was freed.</li>
 * </ul>
 * The owner takes each stack whole ({@code getAndSet(null)}, so there is no ABA) on every allocate and reclaim.
 * A freed extent with no references is reclaimed at once; one still referenced goes on the owner's draining list
 * (oldest first, for the age gauge) until it shows up on the drained stack. The two pushes of one extent can arrive in
 * either order; the owner reclaims an extent exactly once, when it has seen it freed with no references.
 * Extents are never recycled (every allocation is a new object), so a late push of an already reclaimed extent is
 * harmless and ignored.
 */
abstract sealed class AbstractStore implements Store permits MemfdStore, HeapStore {
    static final System.Logger LOG = System.getLogger("dev.sluice.shm");

    private static final VarHandle COUNTER = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle FREED_TOP;
    private static final VarHandle DRAINED_TOP;
    private static final VarHandle FREED_BYTES;
    private static final VarHandle FREED_COUNT;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            FREED_TOP = lookup.findVarHandle(AbstractStore.class, "freedTop", ExtentImpl.class);
            DRAINED_TOP = lookup.findVarHandle(AbstractStore.class, "drainedTop", ExtentImpl.class);
            FREED_BYTES = lookup.findVarHandle(AbstractStore.class, "freedBytes", long.class);
            FREED_COUNT = lookup.findVarHandle(AbstractStore.class, "freedCount", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // Owner-written counters, published with release stores so other threads read whole, current values.
    private static final int FREE_BYTES = 0;
    private static final int RECLAIMED_BYTES = 1;
    private static final int RECLAIMS = 2;
    private static final int ALLOCATIONS = 3;
    private static final int ALLOCATION_FAILURES = 4;
    private static final int PUNCHES = 5;
    private static final int PUNCHED_BYTES = 6;
    private static final int QUARANTINED_BYTES = 7;
    private static final int QUARANTINED_COUNT = 8;
    private static final int FREE_RUNS = 9;
    private static final int LARGEST_FREE_BYTES = 10;
    private static final int LISTED_DRAINING = 11;
    private static final int OLDEST_FREED_AT = 12;
    private static final int COUNTERS = 13;

    private static final AtomicBoolean PUNCH_FAILURE_LOGGED = new AtomicBoolean();

    private final String name;
    private final int loop;
    private final long capacity;
    private final int blockSize;
    private final int blockShift;
    private final Allocator allocator;
    private final long[] counters = new long[COUNTERS];
    private final AtomicBoolean closed = new AtomicBoolean();

    // Written by any thread (free/release), through the VarHandles above.
    @SuppressWarnings("unused")
    private volatile ExtentImpl freedTop;
    @SuppressWarnings("unused")
    private volatile ExtentImpl drainedTop;
    @SuppressWarnings("unused")
    private volatile long freedBytes;
    @SuppressWarnings("unused")
    private volatile long freedCount;

    // Owner loop only.
    private ExtentImpl drainingHead;
    private ExtentImpl drainingTail;
    private Thread owner;

    AbstractStore(String name, int loop, long capacity, int blockSize) {
        if (Long.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException(String.format("block size must be a power of two: %d", blockSize));
        }
        if (capacity <= 0 || capacity % blockSize != 0) {
            throw new IllegalArgumentException(String.format(
                    "capacity must be a positive multiple of the block size %d: %d", blockSize, capacity));
        }
        long units = capacity / blockSize;
        if (units > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(
                    "capacity %d is more than 2^31-1 blocks of %d bytes: use a larger block size", capacity,
                    blockSize));
        }
        this.name = name;
        this.loop = loop;
        this.capacity = capacity;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.allocator = new Allocator((int) units);
        publishAllocator();
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final int loop() {
        return loop;
    }

    @Override
    public final long capacity() {
        return capacity;
    }

    @Override
    public final int blockSize() {
        return blockSize;
    }

    @Override
    public final Extent allocate(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException(String.format("size must be positive: %d", size));
        }
        assert ownedByCurrentThread();
        ensureOpen();
        drain();
        long[] c = counters;
        long units = (size + blockSize - 1) >>> blockShift;
        int first = units <= allocator.units() ? allocator.allocate((int) units) : -1;
        if (first < 0) {
            COUNTER.setRelease(c, ALLOCATION_FAILURES, c[ALLOCATION_FAILURES] + 1);
            return null;
        }
        COUNTER.setRelease(c, ALLOCATIONS, c[ALLOCATIONS] + 1);
        publishAllocator();
        return new ExtentImpl(this, first, (int) units, (long) first << blockShift, size);
    }

    @Override
    public final int reclaim() {
        assert ownedByCurrentThread();
        if (closed.get()) {
            return 0;
        }
        return drain();
    }

    /** Takes both stacks and reclaims what is ready; see the class comment for the protocol. */
    private int drain() {
        int reclaimed = 0;
        boolean listChanged = false;
        if (FREED_TOP.getAcquire(this) != null) {
            // The stack is newest first; reverse it so the draining list stays ordered oldest first.
            ExtentImpl reversed = null;
            for (ExtentImpl e = (ExtentImpl) FREED_TOP.getAndSet(this, null), nx; e != null; e = nx) {
                nx = e.nextFreed;
                e.nextFreed = reversed;
                reversed = e;
            }
            for (ExtentImpl e = reversed; e != null; e = e.nextFreed) {
                e.seenFreed = true;
                if (e.refCnt() == 0) {
                    // Released already (or never sent). If its release also pushed it on the drained stack, the
                    // handled flag makes the owner skip it there.
                    if (reclaimOne(e)) {
                        reclaimed++;
                    }
                } else {
                    listAppend(e);
                    listChanged = true;
                }
            }
        }
        if (DRAINED_TOP.getAcquire(this) != null) {
            for (ExtentImpl e = (ExtentImpl) DRAINED_TOP.getAndSet(this, null); e != null; e = e.nextDrained) {
                if (e.handled || !e.seenFreed) {
                    // Already reclaimed, or its freed push is still to come: it will be reclaimed from there.
                    continue;
                }
                listRemove(e);
                listChanged = true;
                if (reclaimOne(e)) {
                    reclaimed++;
                }
            }
        }
        if (reclaimed > 0) {
            publishAllocator();
        }
        if (listChanged) {
            long[] c = counters;
            COUNTER.setRelease(c, OLDEST_FREED_AT, drainingHead == null ? 0L : drainingHead.freedAt);
        }
        return reclaimed;
    }

    /** Returns the extent's blocks to the allocator (true), or quarantines them when they cannot be made safe. */
    private boolean reclaimOne(ExtentImpl e) {
        long[] c = counters;
        long bytes = (long) e.units << blockShift;
        e.handled = true;
        if (e.isSpliced()) {
            int err = punchHole(e.offset(), bytes);
            if (err != 0) {
                // Rewriting these pages in place could change bytes still queued in socket buffers: never reuse them.
                COUNTER.setRelease(c, QUARANTINED_BYTES, c[QUARANTINED_BYTES] + bytes);
                COUNTER.setRelease(c, QUARANTINED_COUNT, c[QUARANTINED_COUNT] + 1);
                if (PUNCH_FAILURE_LOGGED.compareAndSet(false, true)) {
                    LOG.log(System.Logger.Level.ERROR, String.format(
                            "%s: punching out spliced extent [%d, +%d) failed: %s; the region is quarantined "
                                    + "(never reused); further failures are only counted", name, e.offset(), bytes,
                            Native.describe(err)));
                }
                return false;
            }
            COUNTER.setRelease(c, PUNCHES, c[PUNCHES] + 1);
            COUNTER.setRelease(c, PUNCHED_BYTES, c[PUNCHED_BYTES] + bytes);
        }
        allocator.free(e.firstBlock, e.units);
        e.reclaimed = true;
        COUNTER.setRelease(c, RECLAIMED_BYTES, c[RECLAIMED_BYTES] + bytes);
        COUNTER.setRelease(c, RECLAIMS, c[RECLAIMS] + 1);
        return true;
    }

    private void listAppend(ExtentImpl e) {
        e.listPrev = drainingTail;
        e.listNext = null;
        if (drainingTail == null) {
            drainingHead = e;
        } else {
            drainingTail.listNext = e;
        }
        drainingTail = e;
        e.listed = true;
        long[] c = counters;
        COUNTER.setRelease(c, LISTED_DRAINING, c[LISTED_DRAINING] + 1);
    }

    private void listRemove(ExtentImpl e) {
        if (!e.listed) {
            return;
        }
        if (e.listPrev == null) {
            drainingHead = e.listNext;
        } else {
            e.listPrev.listNext = e.listNext;
        }
        if (e.listNext == null) {
            drainingTail = e.listPrev;
        } else {
            e.listNext.listPrev = e.listPrev;
        }
        e.listPrev = null;
        e.listNext = null;
        e.listed = false;
        long[] c = counters;
        COUNTER.setRelease(c, LISTED_DRAINING, c[LISTED_DRAINING] - 1);
    }

    private void publishAllocator() {
        long[] c = counters;
        COUNTER.setRelease(c, FREE_BYTES, allocator.freeUnits() << blockShift);
        COUNTER.setRelease(c, FREE_RUNS, (long) allocator.freeRuns());
        COUNTER.setRelease(c, LARGEST_FREE_BYTES, (long) allocator.largestFreeUnits() << blockShift);
    }

    /** Called by {@link ExtentImpl#free()} on any thread, after the extent's state says freed. */
    final void onFreed(ExtentImpl e) {
        // Count before pushing, so no reader sees the owner's reclaim of these bytes before the free itself.
        FREED_BYTES.getAndAdd(this, (long) e.units << blockShift);
        FREED_COUNT.getAndAdd(this, 1L);
        ExtentImpl top;
        do {
            top = (ExtentImpl) FREED_TOP.getAcquire(this);
            e.nextFreed = top;
        } while (!FREED_TOP.compareAndSet(this, top, e));
    }

    /** Called by {@link ExtentImpl#release()} on any thread when the last reference of a freed extent is gone. */
    final void onDrained(ExtentImpl e) {
        ExtentImpl top;
        do {
            top = (ExtentImpl) DRAINED_TOP.getAcquire(this);
            e.nextDrained = top;
        } while (!DRAINED_TOP.compareAndSet(this, top, e));
    }

    @Override
    public final StoreStats stats() {
        long[] c = counters;
        // Read what the owner subtracts (reclaimed, quarantined) before what other threads add (freed), so that
        // draining never reads negative while frees and reclaims race with this snapshot.
        long reclaimedBytes = (long) COUNTER.getAcquire(c, RECLAIMED_BYTES);
        long reclaims = (long) COUNTER.getAcquire(c, RECLAIMS);
        long quarantinedBytes = (long) COUNTER.getAcquire(c, QUARANTINED_BYTES);
        long quarantinedCount = (long) COUNTER.getAcquire(c, QUARANTINED_COUNT);
        long freed = (long) FREED_BYTES.getVolatile(this);
        long frees = (long) FREED_COUNT.getVolatile(this);
        long free = (long) COUNTER.getAcquire(c, FREE_BYTES);
        long draining = Math.max(0, freed - reclaimedBytes - quarantinedBytes);
        long allocated = Math.max(0, capacity - free - draining - quarantinedBytes);
        long listed = (long) COUNTER.getAcquire(c, LISTED_DRAINING);
        long oldest = (long) COUNTER.getAcquire(c, OLDEST_FREED_AT);
        long age = listed > 0 ? Math.max(0, System.nanoTime() - oldest) : 0;
        return new StoreStats(
                capacity,
                allocated,
                draining,
                free,
                lockedBytes(),
                quarantinedBytes,
                age,
                Math.max(0, frees - reclaims - quarantinedCount),
                (long) COUNTER.getAcquire(c, ALLOCATIONS),
                (long) COUNTER.getAcquire(c, ALLOCATION_FAILURES),
                frees,
                reclaims,
                (long) COUNTER.getAcquire(c, PUNCHES),
                (long) COUNTER.getAcquire(c, PUNCHED_BYTES),
                lockFailures(),
                (long) COUNTER.getAcquire(c, FREE_RUNS),
                (long) COUNTER.getAcquire(c, LARGEST_FREE_BYTES));
    }

    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            StoreStats s = stats();
            if (s.drainingExtents() > 0 || s.allocatedBytes() > 0) {
                LOG.log(System.Logger.Level.DEBUG, () -> String.format(
                        "%s: closing with %d bytes allocated and %d draining", name, s.allocatedBytes(),
                        s.drainingBytes()));
            }
            release();
        }
    }

    final boolean isClosed() {
        return closed.get();
    }

    final void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException(String.format("store %s is closed", name));
        }
    }

    /**
     * Makes [offset, offset + length) safe to rewrite while the kernel may still hold its old pages; returns 0 or
     * -errno. Owner loop, during reclaim.
     */
    abstract int punchHole(long offset, long length);

    /** Frees the segment and fd. Called once. */
    abstract void release();

    abstract long lockedBytes();

    abstract long lockFailures();

    /** Test hook: the allocator's invariants hold (owner thread). */
    final void checkInvariants() {
        allocator.checkInvariants();
    }

    private boolean ownedByCurrentThread() {
        Thread current = Thread.currentThread();
        if (owner == null) {
            owner = current;
        } else if (owner != current) {
            throw new AssertionError(String.format(
                    "store %s belongs to thread '%s'; allocate/reclaim called from '%s'", name, owner.getName(),
                    current.getName()));
        }
        return true;
    }

    @Override
    public String toString() {
        return String.format("%s[%s, %d bytes, block %d]", name, backing().label(), capacity, blockSize);
    }
}
