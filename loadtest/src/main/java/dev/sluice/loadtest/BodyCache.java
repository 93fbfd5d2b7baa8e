package dev.sluice.loadtest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Generated payload pieces, memoized per (path seed, 64 KiB-aligned piece) up to a byte bound, so a benchmark
 * origin serving the same bodies repeatedly costs only the kernel's copy, not generation. Fill-once: when the bound
 * is reached, further pieces are generated into pooled buffers per send. Pieces are immutable once published;
 * senders get retained slices, so releasing the cache (on close) never pulls memory from under an in-flight write.
 */
final class BodyCache {
    static final int PIECE = 64 * 1024;

    private record Key(long seed, long index) {}

    private final long capacity;
    private final ConcurrentHashMap<Key, ByteBuf> pieces = new ConcurrentHashMap<>();
    private final AtomicLong used = new AtomicLong();
    private volatile boolean closed;

    BodyCache(long capacityBytes) {
        this.capacity = capacityBytes;
    }

    /**
     * Payload bytes {@code [offset, offset+n)} with {@code 0 < n <= maxLen}, never crossing a 64 KiB boundary. The
     * caller owns the returned buffer.
     */
    ByteBuf slice(ByteBufAllocator alloc, long seed, long offset, int maxLen) {
        long index = offset / PIECE;
        int within = (int) (offset % PIECE);
        int n = Math.min(maxLen, PIECE - within);
        Key key = new Key(seed, index);
        ByteBuf piece = pieces.get(key);
        if (piece == null && !closed && used.get() + PIECE <= capacity) {
            ByteBuf fresh = Unpooled.directBuffer(PIECE, PIECE);
            Payload.fill(seed, index * PIECE, fresh, PIECE);
            piece = pieces.putIfAbsent(key, fresh);
            if (piece == null) {
                used.addAndGet(PIECE);
                piece = fresh;
            } else {
                fresh.release();
            }
        }
        if (piece != null) {
            return piece.retainedSlice(within, n);
        }
        ByteBuf b = alloc.directBuffer(n, n);
        Payload.fill(seed, offset, b, n);
        return b;
    }

    long usedBytes() {
        return used.get();
    }

    /** Drops the cache's references (in-flight slices keep theirs). Call after the senders stopped. */
    void close() {
        closed = true;
        for (Key k : pieces.keySet()) {
            ByteBuf b = pieces.remove(k);
            if (b != null) {
                b.release();
            }
        }
        used.set(0);
    }
}
