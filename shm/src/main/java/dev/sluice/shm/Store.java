package dev.sluice.shm;

import java.lang.foreign.MemorySegment;

/**
 * One event loop's memory: a single segment and the extent allocator over it (a Varnish "stevedore").
 *
 * <h2>Threads</h2>
 * {@link #allocate(long)} and {@link #reclaim()} belong to the owner loop: they run without locks and must only be
 * called from one thread (checked by an assertion when assertions are enabled). {@link #stats()}, {@link #segment()},
 * {@link #fd()} and the {@link Extent} reference methods may be used from any thread. {@link #close()} is for
 * shutdown, after every send from the store has completed.
 */
public interface Store extends AutoCloseable {
    /** Store name, e.g. {@code sluice-0}; also the memfd name seen in {@code /proc/<pid>/maps}. */
    String name();

    /** Index of the event loop this store belongs to. */
    int loop();

    /** What the segment sits on. */
    Backing backing();

    /** Segment size in bytes: this store's share of the memory budget. */
    long capacity();

    /** Allocation granularity in bytes: extents start at, and reserve, multiples of it. */
    int blockSize();

    /**
     * Reserves {@code size} contiguous bytes. First reclaims extents whose references were released since the last
     * call. Owner loop only.
     *
     * @return the extent, or {@code null} when no free run is large enough (counted in
     *         {@link StoreStats#allocationFailures()}); the caller evicts and retries, or passes the body through
     *         uncached
     * @throws IllegalArgumentException when {@code size} is not positive
     */
    Extent allocate(long size);

    /**
     * Reclaims every extent released since the last allocate or reclaim (punching spliced regions out of the file),
     * and refreshes the draining-age gauge. Owner loop only; cheap when there is nothing to do, so a loop may call it
     * on a timer when idle.
     *
     * @return the number of extents returned to the allocator
     */
    int reclaim();

    /** Gauges and counters; safe from any thread (a snapshot of single-writer counters, each value current). */
    StoreStats stats();

    /** The whole segment ({@link #capacity()} bytes). Extents are slices of it. */
    MemorySegment segment();

    /**
     * The segment's file descriptor, for splicing from (fd, {@link Extent#offset()}); -1 for {@link Backing#HEAP}. The
     * store owns it: do not close it.
     */
    int fd();

    /** Unmaps the segment and closes its fd (unlinking a named file). Idempotent. */
    @Override
    void close();
}
