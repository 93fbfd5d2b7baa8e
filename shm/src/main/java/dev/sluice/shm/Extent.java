package dev.sluice.shm;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * A contiguous region of a {@link Store}'s segment, handed out by {@link Store#allocate(long)}.
 *
 * <h2>Life cycle: completion-tracked reuse</h2>
 * An extent is {@link State#LIVE} until its owner (the cache entry) calls {@link #free()}. Each send from it holds a
 * reference ({@link #retain()} before submitting, {@link #release()} when the kernel is done with the bytes). A freed
 * extent is {@link State#DRAINING} while references remain, and becomes {@link State#FREE} (its blocks reusable) only
 * after the last release, when the owner loop next allocates or calls {@link Store#reclaim()}. When the kernel is
 * "done" depends on the send mechanism:
 * <ul>
 *   <li>plain copying write (write/send of a buffer view): when the write completes, the bytes have been copied;</li>
 *   <li>io_uring SEND_ZC: at the notification CQE (in Netty: when the wrapped buffer is released), not at the
 *       write's completion;</li>
 *   <li>splice/sendfile from the segment's fd: <em>never knowable</em>. The pages stay referenced by socket buffers
 *       after the splice completes, on loopback even after the peer's ACK. Call {@link #markSpliced()} before the
 *       first splice; the store then punches the region out of the file (fallocate PUNCH_HOLE|KEEP_SIZE) before
 *       reuse, so in-flight packets keep the old pages and later writes get fresh ones. Release when the splice
 *       completes.</li>
 * </ul>
 *
 * <h2>Threads</h2>
 * {@link #retain()}, {@link #tryRetain()}, {@link #release()}, {@link #free()} and {@link #markSpliced()} are
 * thread-safe and lock-free; the final transition is handed to the owner loop's allocator through a lock-free queue.
 * Reading and writing the bytes is not synchronised by the extent: publish a filled extent safely (e.g. through a
 * concurrent map) before other threads send from it.
 */
public interface Extent {
    /** The largest {@link ByteBuffer} view this API hands out: 1 GiB. Larger extents come as several views. */
    int MAX_BUFFER_BYTES = 1 << 30;

    /** The store (and so the segment and fd) this extent lives in. */
    Store store();

    /** Byte offset of the extent within its store's segment (and file): a multiple of the store's block size. */
    long offset();

    /** Usable bytes, as requested from {@link Store#allocate(long)}. */
    long length();

    /** Reserved bytes: {@link #length()} rounded up to the store's block size. */
    long capacity();

    /** The {@link #length()} bytes of this extent, as a slice of {@link Store#segment()}. */
    MemorySegment slice();

    /**
     * A view of {@code length} bytes starting {@code position} bytes into the extent; direct for fd-backed stores.
     *
     * @throws IndexOutOfBoundsException when the range leaves the extent or exceeds {@link #MAX_BUFFER_BYTES}
     */
    ByteBuffer byteBuffer(long position, int length);

    /** The whole extent as consecutive views of at most {@link #MAX_BUFFER_BYTES} each (one view up to 1 GiB). */
    ByteBuffer[] byteBuffers();

    /**
     * Adds a send reference. Allowed on a freed (draining) extent as long as the caller holds a reference already:
     * that reference keeps the region from being reclaimed, so a holder may hand out more (a response being sent in
     * several sends while it is evicted).
     *
     * @return this extent
     * @throws IllegalStateException when the extent was freed and no reference is held (use {@link #tryRetain()} on
     *                               paths that race with eviction)
     */
    Extent retain();

    /** Adds a send reference unless the extent was already freed, referenced or not; {@code false} means "treat as a miss". */
    boolean tryRetain();

    /**
     * Drops a send reference.
     *
     * @return {@code true} when this dropped the last reference of a freed extent (it is now reclaimable)
     * @throws IllegalStateException when no reference is held
     */
    boolean release();

    /** Current number of send references (for diagnostics; stale as soon as read). */
    int refCnt();

    /**
     * Gives the extent back: no new references may be taken; it becomes reusable once every send reference is
     * released. Call once.
     *
     * @throws IllegalStateException when already freed
     */
    void free();

    /**
     * Records that bytes were (or are about to be) spliced from this extent's pages, so that the store punches the
     * region out of the file before reusing it. Call before the first splice, while holding a reference or before
     * {@link #free()}. No effect on stores without a file ({@link Backing#HEAP}).
     *
     * @throws IllegalStateException when the extent is freed and unreferenced (too late to matter safely)
     */
    void markSpliced();

    /** Whether {@link #markSpliced()} was called. */
    boolean isSpliced();

    /** Where the extent is in its life cycle. */
    State state();

    /** Life-cycle states, with stable lowercase {@linkplain #label() labels}. */
    enum State {
        /** Allocated and not yet freed. */
        LIVE,
        /** Freed; waiting for send references to be released and the owner loop to reclaim it. */
        DRAINING,
        /** Returned to the allocator; its bytes may already belong to another extent. */
        FREE;

        private final String label = name().toLowerCase(Locale.ROOT);

        /** {@code live}, {@code draining} or {@code free}. */
        public String label() {
            return label;
        }

        @Override
        public String toString() {
            return label;
        }
    }
}
