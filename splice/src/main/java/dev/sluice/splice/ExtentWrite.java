package dev.sluice.splice;

import dev.sluice.shm.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link SendMechanism#WRITE}: Netty writes of ByteBufs that wrap the extent's mapping (no copy in the JVM). The
 * extent reference is held until Netty has released every wrapper: for a plain send that is when the write
 * completed (the kernel copied), for a SEND_ZC Netty chose itself (IO_URING_WRITE_ZERO_COPY_THRESHOLD) it is the
 * notification. Heap-backed extents (no mapping) are copied into one buffer and released at once.
 */
final class ExtentWrite implements SpliceTransfer, ChannelFutureListener {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(ExtentWrite.class);

    private final SpliceMetrics metrics;
    private final Extent extent;
    private final long length;
    private final SpliceCallback callback;
    /**
     * Wrappers not yet deallocated, plus one held while {@link #start} creates them (a wrapper may be written and
     * released before the next exists); the extent is released when it reaches 0, on whichever thread.
     */
    private final AtomicInteger liveBuffers = new AtomicInteger(1);
    private volatile long moved;
    private volatile boolean done;

    private ExtentWrite(SpliceMetrics metrics, Extent extent, long length, SpliceCallback callback) {
        this.metrics = metrics;
        this.extent = extent;
        this.length = length;
        this.callback = callback;
    }

    /** Writes bytes [position, position + length) of {@code extent}, on which the caller took a reference. */
    static ExtentWrite start(SpliceMetrics metrics, Extent extent, long position, long length, Channel out,
                             SpliceCallback callback) {
        ExtentWrite w = new ExtentWrite(metrics, extent, length, callback);
        metrics.send(SendMechanism.WRITE);
        ChannelFuture last = null;
        long done = 0;
        try {
            while (done < length) {
                int len = (int) Math.min(length - done, Extent.MAX_BUFFER_BYTES);
                ByteBuffer view = extent.byteBuffer(position + done, len);
                ByteBuf buf;
                if (view.isDirect() && !view.isReadOnly()) {
                    w.liveBuffers.incrementAndGet();
                    buf = new Wrapper(out.alloc(), view, w);
                } else {
                    buf = Unpooled.copiedBuffer(view);
                }
                done += len;
                last = out.write(buf);
            }
        } finally {
            w.bufferReleased(); // drop the creation guard
            out.flush();
        }
        ChannelFuture written = last;
        if (written.isDone()) {
            // Failed at once (e.g. the channel was closed): a listener would run the callback inside
            // Splicer.send, before the caller has even seen the transfer. Defer it, as every other send does.
            out.eventLoop().execute(() -> w.operationComplete(written));
        } else {
            written.addListener(w);
        }
        return w;
    }

    private void bufferReleased() {
        if (liveBuffers.decrementAndGet() == 0) {
            extent.release();
        }
    }

    @Override
    public void operationComplete(ChannelFuture f) {
        done = true;
        Throwable cause = null;
        if (f.isSuccess()) {
            moved = length;
            metrics.sendBytes(SendMechanism.WRITE, length);
        } else {
            cause = new SpliceIoException("write", f.cause());
        }
        try {
            callback.done(moved, cause);
        } catch (Throwable t) {
            logger.warn("send callback threw", t);
        }
    }

    /** Writes cannot be recalled from Netty: close the channel to abort (the buffers are released then). */
    @Override
    public void cancel() {
    }

    @Override
    public boolean cancelCompletes() {
        return false;
    }

    @Override
    public long bytesMoved() {
        return moved;
    }

    @Override
    public boolean isDone() {
        return done;
    }

    /** A direct ByteBuf over the mapping that never frees it and tells the send when Netty let go of it. */
    private static final class Wrapper extends UnpooledDirectByteBuf {
        private final ExtentWrite owner;

        Wrapper(ByteBufAllocator alloc, ByteBuffer view, ExtentWrite owner) {
            super(alloc, view, view.remaining());
            this.owner = owner;
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            owner.bufferReleased();
        }
    }
}
