package dev.sluice.shm;

import java.lang.foreign.MemorySegment;

/**
 * A store on a Java heap array: the same allocator and reuse contract as {@link MemfdStore}, for unit tests and for
 * machines without memfd. There is no fd, so nothing can be spliced from it and punching is a no-op; its views are
 * heap {@link java.nio.ByteBuffer}s (a send copies them). At most 2^31 - 1 - 8 bytes, the largest Java array.
 */
final class HeapStore extends AbstractStore {
    /** The largest byte[] the JVM reliably allocates. */
    static final long MAX_CAPACITY = Integer.MAX_VALUE - 8;

    private final MemorySegment segment;

    HeapStore(String name, int loop, long capacity, int blockSize) {
        super(name, loop, checkCapacity(capacity), blockSize);
        this.segment = MemorySegment.ofArray(new byte[(int) capacity]);
    }

    private static long checkCapacity(long capacity) {
        if (capacity > MAX_CAPACITY) {
            throw new IllegalArgumentException(String.format(
                    "a heap store holds at most %d bytes, asked for %d: use more loops or memfd", MAX_CAPACITY,
                    capacity));
        }
        return capacity;
    }

    @Override
    public Backing backing() {
        return Backing.HEAP;
    }

    @Override
    public MemorySegment segment() {
        ensureOpen();
        return segment;
    }

    @Override
    public int fd() {
        return -1;
    }

    @Override
    int punchHole(long offset, long length) {
        return 0; // nothing outside the JVM can hold these pages: a copying write is done when it returns
    }

    @Override
    void release() {
        // The array goes with the last reference to the store.
    }

    @Override
    long lockedBytes() {
        return 0;
    }

    @Override
    long lockFailures() {
        return 0;
    }
}
