package dev.sluice.proxy;

import dev.sluice.shm.Extent;
import dev.sluice.splice.SendMechanism;
import dev.sluice.splice.SpliceCallback;
import dev.sluice.splice.SpliceTimeoutException;
import dev.sluice.splice.SpliceTransfer;
import dev.sluice.splice.Splicer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A response head, then a body from the cache's shared memory, to one client: a stored body (a hit) or one still
 * filling (the miss that stores it, or a request collapsed onto that miss), sent as far as it has arrived and
 * continued as the fill moves on. Bytes go by the chosen {@link SendMechanism} through the loop's {@link Splicer},
 * which holds its own reference on the extent for each send; this send holds one more from its start to its end,
 * taken by whoever created it.
 *
 * <p>The body is one or more ranges of the extent ({@link StoredAnswer}): the whole of it for a 200, a range for a
 * 206, or the parts of a multipart/byteranges 206, each preceded by its part header (and the last followed by the
 * closing delimiter) written from the heap. A heap write and a zero-copy send never overlap: a zero-copy send
 * writes to the socket itself, so it starts only once the heap bytes before it are out.
 */
final class ExtentSend implements SpliceCallback, Fill.Waiter {
    private static final System.Logger LOG = System.getLogger(ExtentSend.class.getName());
    interface Owner {
        void sendDone(ExtentSend s);

        void sendFailed(ExtentSend s, ProxyException cause);
    }

    private final Channel out;
    private final Splicer splicer;
    private final Extent extent;
    /** Ranges of the extent to send, as pairs: start, end (exclusive). */
    private final long[] bounds;
    /** Heap bytes before each range and after the last (multipart), or null. */
    private final byte[][] parts;
    private final Fill fill;
    private final SendMechanism mechanism;
    private final long idleNanos;
    private final CacheMetrics metrics;
    private final Owner owner;
    private final AtomicBoolean armed = new AtomicBoolean();

    /** Body bytes the client was sent (from the extent, and part headers). */
    long sent;
    /** The range being sent, and the next byte of it. */
    private int range;
    private long pos;
    /** The heap bytes before the current range (or after the last) are written, or being written. */
    private boolean partWritten;
    private SpliceTransfer inFlight;
    private long inFlightSinceNanos;
    private boolean finished;
    private boolean released;
    private Runnable afterCancel;

    /**
     * @param extent the body (null when empty), on which the caller took a reference for this send
     * @param bounds the ranges to send, pairs of start and end (exclusive), inside the extent; none for no body
     * @param parts  heap bytes to write before each range and one more after the last, or null
     * @param fill   the fill still writing it, or null when it is complete
     */
    ExtentSend(Channel out, Splicer splicer, Extent extent, long[] bounds, byte[][] parts, Fill fill,
            SendMechanism mechanism, long idleNanos, CacheMetrics metrics, Owner owner) {
        this.out = out;
        this.splicer = splicer;
        this.extent = extent;
        this.bounds = bounds;
        this.parts = parts;
        this.pos = bounds.length == 0 ? 0 : bounds[0];
        this.fill = fill;
        this.mechanism = mechanism;
        this.idleNanos = idleNanos;
        this.metrics = metrics;
        this.owner = owner;
    }

    SendMechanism mechanism() {
        return mechanism;
    }

    /** Sends {@code head}, then the body unless {@code headOnly} (a HEAD request). */
    void start(ByteBuf head, boolean headOnly) {
        if (headOnly || bounds.length == 0) {
            out.writeAndFlush(head).addListener((ChannelFuture f) -> {
                if (f.isSuccess()) {
                    done();
                } else {
                    failed(new ProxyException(Failure.BAD_REQUEST, "client write failed: " + f.cause()));
                }
            });
            return;
        }
        if (mechanism == SendMechanism.WRITE) {
            out.write(head); // flushed with the first body bytes: one writev for a small hit
            next();
            return;
        }
        // zero-copy sends write to the socket themselves: only once the head is out
        inFlightSinceNanos = System.nanoTime();
        out.writeAndFlush(head).addListener((ChannelFuture f) -> {
            inFlightSinceNanos = 0;
            if (finished) {
                return;
            }
            if (f.isSuccess()) {
                next();
            } else {
                failed(new ProxyException(Failure.BAD_REQUEST, "client write failed: " + f.cause()));
            }
        });
    }

    /** Bytes of the current range that have arrived and were not sent yet. */
    private long available() {
        long end = bounds[2 * range + 1];
        return (fill == null ? end : Math.min(fill.filled(), end)) - pos;
    }

    /** Sends what has arrived, or waits for the fill. */
    private void next() {
        while (!finished && inFlight == null) {
            if (parts != null && !partWritten) {
                partWritten = true;
                byte[] p = parts[range];
                sent += p.length;
                boolean last = range == bounds.length / 2;
                if (mechanism == SendMechanism.WRITE && !last) {
                    out.write(Unpooled.wrappedBuffer(p)); // in order with the writes of the range that follows
                    continue;
                }
                writeThenNext(Unpooled.wrappedBuffer(p));
                return;
            }
            if (range == bounds.length / 2) {
                done();
                return;
            }
            long n = available();
            if (n > 0) {
                inFlightSinceNanos = System.nanoTime();
                try {
                    inFlight = splicer.send(extent, pos, n, out, mechanism, idleNanos, this);
                } catch (RuntimeException e) {
                    // a broken invariant, never the client's doing: end this response, not the loop's other work
                    LOG.log(System.Logger.Level.ERROR, "cache send failed", e);
                    inFlightSinceNanos = 0;
                    failed(new ProxyException(Failure.BAD_GATEWAY, "cache send failed: " + e));
                }
                return;
            }
            if (pos == bounds[2 * range + 1]) {
                range++;
                partWritten = false;
                if (2 * range < bounds.length) {
                    pos = bounds[2 * range];
                }
                continue;
            }
            if (fill.state() == Fill.State.FAILED) {
                failed(new ProxyException(Failure.BAD_GATEWAY, "cut short: the fill failed (" + fill.failure() + ")"));
                return;
            }
            if (mechanism == SendMechanism.WRITE) {
                out.flush(); // the head or a part header written ahead of bytes not yet arrived
            }
            fill.await(this);
            boolean moved = available() > 0 || fill.state() == Fill.State.FAILED;
            if (!moved || !armed.compareAndSet(true, false)) {
                return; // woken by the fill (fillChanged)
            }
        }
    }

    /** Writes heap bytes, and goes on once they are out (a zero-copy send must not overtake them). */
    private void writeThenNext(ByteBuf buf) {
        inFlightSinceNanos = System.nanoTime();
        out.writeAndFlush(buf).addListener((ChannelFuture f) -> {
            inFlightSinceNanos = 0;
            if (finished) {
                return;
            }
            if (f.isSuccess()) {
                next();
            } else {
                failed(new ProxyException(Failure.BAD_REQUEST, "client write failed: " + f.cause()));
            }
        });
    }

    @Override
    public EventLoop loop() {
        return out.eventLoop();
    }

    @Override
    public AtomicBoolean armed() {
        return armed;
    }

    @Override
    public void fillChanged() {
        next();
    }

    @Override
    public void done(long moved, Throwable cause) {
        inFlight = null;
        inFlightSinceNanos = 0;
        sent += moved;
        pos += moved;
        metrics.hitBytes[mechanism.ordinal()].increment(moved);
        if (finished) {
            Runnable then = afterCancel;
            afterCancel = null;
            if (then != null) {
                then.run();
            }
            return;
        }
        if (cause != null) {
            failed(cause instanceof SpliceTimeoutException
                    ? new ProxyException(Failure.GATEWAY_TIMEOUT, "idle timeout: the client took no bytes (cache send)")
                    : new ProxyException(Failure.BAD_REQUEST, "client send failed: " + cause.getMessage()));
            return;
        }
        next();
    }

    /** How long the current send has waited for the client; 0 when none is pending. */
    long stalledNanos(long now) {
        return inFlightSinceNanos == 0 ? 0 : now - inFlightSinceNanos;
    }

    boolean isFinished() {
        return finished;
    }

    /**
     * Stops (the exchange is ending); no owner callback follows. True when a send of ours still holds the socket:
     * {@code then} runs once it let go, and only then may the socket be closed.
     */
    boolean cancel(Runnable then) {
        if (finished) {
            return false;
        }
        finished = true;
        release();
        if (inFlight != null && inFlight.cancelCompletes()) {
            afterCancel = then;
            inFlight.cancel();
            return true;
        }
        return false;
    }

    private void done() {
        if (finished) {
            return;
        }
        finished = true;
        release();
        owner.sendDone(this);
    }

    private void failed(ProxyException e) {
        if (finished) {
            return;
        }
        finished = true;
        release();
        owner.sendFailed(this, e);
    }

    private void release() {
        if (!released) {
            released = true;
            if (extent != null) {
                extent.release();
            }
            if (fill != null) {
                fill.leave();
            }
        }
    }
}
