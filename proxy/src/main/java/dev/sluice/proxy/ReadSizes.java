package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * Read sizes of one HTTP connection (one instance per channel, owned by its loop): small while a head is awaited,
 * adaptive up to 1 MiB while a body is copied.
 *
 * <p>Why two modes: whatever Netty reads together with a head goes through the heap, and only the rest of a
 * counted body can be spliced. One adaptive size per connection grows to 1 MiB on copied bodies and then reads whole
 * 1 MiB responses together with their heads: measured on 1 MiB bodies over 16 keep-alive connections, three
 * quarters of the bytes were copied although the route spliced. A head read of {@link #HEAD} bytes leaves the body
 * to the splice; the body size is learnt separately and survives head reads, so copied bodies (chunked, short, copy
 * routes) still get large reads.
 */
final class ReadSizes extends DefaultMaxMessagesRecvByteBufAllocator {
    /** A head read: most response and request heads fit (the header limit may need several). */
    static final int HEAD = 8 * 1024;
    static final int BODY_MIN = 16 * 1024;
    static final int BODY_MAX = 1 << 20;

    private boolean body;
    /** Where the next reads go instead of a fresh buffer (a fill receiving into shared memory), or null. */
    private Target target;
    /** The learnt body read size, a power of two between {@link #BODY_MIN} and {@link #BODY_MAX}. */
    private int bodySize = 64 * 1024;
    private boolean shrinkNext;

    ReadSizes() {
        super(1);
    }

    /** Reads of a connection that never carries heads (L4 relays): adaptive body sizes from the start. */
    static ReadSizes bulk() {
        ReadSizes r = new ReadSizes();
        r.body = true;
        return r;
    }

    /** The next reads of {@code ch} fetch a head (no-op on channels without a ReadSizes). */
    static void head(Channel ch) {
        if (ch.config().getRecvByteBufAllocator() instanceof ReadSizes r) {
            r.body = false;
            r.target = null;
        }
    }

    /** The next reads of {@code ch} copy body bytes. */
    static void body(Channel ch) {
        if (ch.config().getRecvByteBufAllocator() instanceof ReadSizes r) {
            r.body = true;
            r.target = null;
        }
    }

    /** Supplies the buffer the next read of a channel fills. */
    interface Target {
        /** A buffer over the memory the next bytes belong in, or null to read into a fresh buffer. */
        ByteBuf next(ByteBufAllocator alloc);
    }

    /**
     * The next reads of {@code ch} go where {@code target} says: the transport receives straight into that memory
     * (io_uring and epoll by its address, NIO through its ByteBuffer), so the kernel's copy out of the socket is the
     * only copy. False when {@code ch} has no ReadSizes.
     */
    static boolean into(Channel ch, Target target) {
        if (ch.config().getRecvByteBufAllocator() instanceof ReadSizes r) {
            r.body = false;
            r.target = target;
            return true;
        }
        return false;
    }

    @Override
    public RecvByteBufAllocator.Handle newHandle() {
        return new Sizes();
    }

    private final class Sizes extends MaxMessageHandle {
        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            ByteBuf b = target == null ? null : target.next(alloc);
            return b != null ? b : super.allocate(alloc);
        }

        @Override
        public int guess() {
            return body ? bodySize : HEAD;
        }

        @Override
        public void lastBytesRead(int bytes) {
            if (body && bytes > 0 && bytes == attemptedBytesRead()) {
                // Filled: the source has more queued than we ask for.
                shrinkNext = false;
                bodySize = Math.min(BODY_MAX, bodySize << 1);
            }
            super.lastBytesRead(bytes);
        }

        @Override
        public void readComplete() {
            if (body) {
                int read = totalBytesRead();
                if (read > 0 && read <= bodySize >> 2) {
                    // Two small reads in a row: the source is slower than our reads, use less memory per read.
                    if (shrinkNext) {
                        bodySize = Math.max(BODY_MIN, bodySize >> 1);
                    }
                    shrinkNext = !shrinkNext;
                } else {
                    shrinkNext = false;
                }
            }
        }
    }
}
