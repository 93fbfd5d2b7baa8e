package dev.sluice.shm;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The one {@link Extent} implementation. Single use: every allocation makes a new object, so a stale reference can
 * never reach a later tenant of the same blocks, and the store's queues can link through fields of the extent.
 *
 * <p>All cross-thread state is one int, changed by CAS: bit 0 freed, bit 1 spliced, bits 2.. the send references.
 * Keeping "freed" and the count in one word is what makes "refuse new references after free" and "the last release of
 * a freed extent hands it back exactly once" race-free.
 */
final class ExtentImpl implements Extent {
    private static final int FREED = 1;
    private static final int SPLICED = 2;
    private static final int REF = 4;
    private static final int MAX_REFS = Integer.MAX_VALUE >>> 2;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(ExtentImpl.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final AbstractStore store;
    final int firstBlock;
    final int units;
    private final long offset;
    private final long length;

    @SuppressWarnings("unused") // through STATE
    private volatile int state;

    /** System.nanoTime() at free(); written before the freed push, so the owner reads it after taking the stack. */
    long freedAt;

    // Links for the store's lock-free stacks; each is written only by the single push of this extent onto that stack.
    ExtentImpl nextFreed;
    ExtentImpl nextDrained;

    // Owner loop only.
    boolean seenFreed;
    /** Reclaimed or quarantined: the owner is done with it; later pushes of it are ignored. */
    boolean handled;
    boolean listed;
    ExtentImpl listPrev;
    ExtentImpl listNext;
    /** Set by the owner when the blocks went back to the allocator; volatile for {@link #state()} on other threads. */
    volatile boolean reclaimed;

    ExtentImpl(AbstractStore store, int firstBlock, int units, long offset, long length) {
        this.store = store;
        this.firstBlock = firstBlock;
        this.units = units;
        this.offset = offset;
        this.length = length;
    }

    @Override
    public Store store() {
        return store;
    }

    @Override
    public long offset() {
        return offset;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public long capacity() {
        return (long) units * store.blockSize();
    }

    @Override
    public MemorySegment slice() {
        return store.segment().asSlice(offset, length);
    }

    @Override
    public ByteBuffer byteBuffer(long position, int length) {
        Objects.checkFromIndexSize(position, length, this.length);
        if (length > MAX_BUFFER_BYTES) {
            throw new IndexOutOfBoundsException(String.format(
                    "a view is at most %d bytes, asked for %d", MAX_BUFFER_BYTES, length));
        }
        return store.segment().asSlice(offset + position, length).asByteBuffer();
    }

    @Override
    public ByteBuffer[] byteBuffers() {
        int pieces = (int) ((length + MAX_BUFFER_BYTES - 1) / MAX_BUFFER_BYTES);
        ByteBuffer[] views = new ByteBuffer[pieces];
        MemorySegment segment = store.segment();
        for (int i = 0; i < pieces; i++) {
            long from = (long) i * MAX_BUFFER_BYTES;
            views[i] = segment.asSlice(offset + from, Math.min(MAX_BUFFER_BYTES, length - from)).asByteBuffer();
        }
        return views;
    }

    @Override
    public Extent retain() {
        for (;;) {
            int s = state;
            if ((s & FREED) != 0 && (s >>> 2) == 0) {
                throw new IllegalStateException(String.format("%s was freed: no new references", this));
            }
            if ((s >>> 2) == MAX_REFS) {
                throw new IllegalStateException(String.format("%s: reference count overflow", this));
            }
            if (STATE.compareAndSet(this, s, s + REF)) {
                return this;
            }
        }
    }

    @Override
    public boolean tryRetain() {
        for (;;) {
            int s = state;
            if ((s & FREED) != 0 || (s >>> 2) == MAX_REFS) {
                return false;
            }
            if (STATE.compareAndSet(this, s, s + REF)) {
                return true;
            }
        }
    }

    @Override
    public boolean release() {
        for (;;) {
            int s = state;
            if ((s >>> 2) == 0) {
                throw new IllegalStateException(String.format("%s: release without a reference", this));
            }
            int n = s - REF;
            if (STATE.compareAndSet(this, s, n)) {
                if ((n & FREED) != 0 && (n >>> 2) == 0) {
                    // Freed before this last release: nobody else will hand it back.
                    store.onDrained(this);
                    return true;
                }
                return false;
            }
        }
    }

    @Override
    public int refCnt() {
        return state >>> 2;
    }

    @Override
    public void free() {
        long now = System.nanoTime();
        for (;;) {
            int s = state;
            if ((s & FREED) != 0) {
                throw new IllegalStateException(String.format("%s was already freed", this));
            }
            freedAt = now;
            if (STATE.compareAndSet(this, s, s | FREED)) {
                break;
            }
        }
        // Always pushed, referenced or not: the owner decides between "reclaim now" and "list as draining".
        store.onFreed(this);
    }

    @Override
    public void markSpliced() {
        for (;;) {
            int s = state;
            if ((s & SPLICED) != 0) {
                return;
            }
            if ((s & FREED) != 0 && (s >>> 2) == 0) {
                throw new IllegalStateException(String.format(
                        "%s is freed and unreferenced: mark it spliced before freeing or while holding a reference",
                        this));
            }
            if (STATE.compareAndSet(this, s, s | SPLICED)) {
                return;
            }
        }
    }

    @Override
    public boolean isSpliced() {
        return (state & SPLICED) != 0;
    }

    @Override
    public State state() {
        if ((state & FREED) == 0) {
            return State.LIVE;
        }
        return reclaimed ? State.FREE : State.DRAINING;
    }

    @Override
    public String toString() {
        int s = state;
        String st = (s & FREED) == 0 ? "live" : reclaimed ? "free" : "draining";
        return String.format("Extent[%s @%d +%d, %s, refs=%d%s]", store.name(), offset, length, st, s >>> 2,
                (s & SPLICED) != 0 ? ", spliced" : "");
    }
}
