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
 *
 * <p>The send of the client that caused a miss under {@code cache.fill = tee}, when it is sent the whole body, sends
 * from the extent only what was stored before the tee began (bytes that came with the head); once it has sent all
 * of that it hands its socket to the fill's tee ({@link Fill#handOver}), which splices the rest to it, and takes over
 * again from the extent only if the tee stops before the end for a reason that is not the client's. A leader sent
 * a range, or nothing (a warm request), leaves the fill to receive.
 */
final class ExtentSend implements SpliceCallback, Fill.Waiter, Fill.TeeClient {
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
    /** The head of a warm request, until the body is stored ({@link #startWhenStored}). */
    private ByteBuf pendingHead;
    private boolean headWaits;
    /** The fill's tee sends to our client now; {@link #pos} was {@code teeBase} when it took over. */
    private boolean teeing;
    private long teeBase;

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
        if (fill != null && fill.awaitsTee(out) && !wholeBody()) {
            fill.receiveInstead("leader-range"); // the tee would send the leader bytes it did not ask for
        }
    }

    /** The whole body, as one range (what a tee sends). */
    private boolean wholeBody() {
        return parts == null && bounds.length == 2 && bounds[0] == 0 && extent != null
                && bounds[1] == fill.response().length();
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
        if (mechanism == SendMechanism.WRITE && !(fill != null && fill.awaitsTee(out))) {
            out.write(head); // flushed with the first body bytes: one writev for a small hit
            next();
            return;
        }
        writeThenNext(head); // zero-copy sends write to the socket themselves: only once the head is out
    }

    /**
     * Sends {@code head} alone once the body is complete in the cache (a warm request: storing it was the point, so
     * no body bytes go out), or fails with 502 when its fill fails first.
     */
    void startWhenStored(ByteBuf head) {
        pendingHead = head;
        headWaits = true;
        if (fill != null && fill.awaitsTee(out)) {
            fill.receiveInstead("leader-warm");
        }
        awaitStored();
    }

    /** False while a head waits for the body to be stored ({@link #startWhenStored}), and after it never went. */
    boolean headSent() {
        return !headWaits;
    }

    private void awaitStored() {
        while (!finished) {
            if (fill == null || fill.state() == Fill.State.DONE) {
                ByteBuf h = pendingHead;
                pendingHead = null;
                headWaits = false;
                start(h, true);
                return;
            }
            if (fill.state() == Fill.State.FAILED) {
                failed(new ProxyException(Failure.BAD_GATEWAY, "the fill failed: " + fill.failure()));
                return;
            }
            fill.await(this);
            boolean ended = fill.state() == Fill.State.DONE || fill.state() == Fill.State.FAILED;
            if (!ended || !armed.compareAndSet(true, false)) {
                return; // woken by the fill (fillChanged)
            }
        }
    }

    /** Bytes of the current range that have arrived and were not sent yet. */
    private long available() {
        long end = bounds[2 * range + 1];
        return (fill == null ? end : Math.min(fill.filled(), end)) - pos;
    }

    /** Sends what has arrived, or waits for the fill. */
    private void next() {
        while (!finished && inFlight == null && !teeing) {
            if (fill != null && fill.awaitsTee(out) && pos == fill.filled()) {
                // the socket is ours alone now (head flushed, earlier sends completed): the tee takes it
                teeBase = pos;
                teeing = fill.handOver(out, this);
                continue;
            }
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
        if (pendingHead != null) {
            awaitStored();
        } else {
            next();
        }
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

    @Override
    public void teeSent(long n) {
        metrics.teeSentBytes.increment(teeBase + n - pos);
        sent += teeBase + n - pos;
        pos = teeBase + n;
    }

    @Override
    public void teeEnded(long n, Throwable cause, boolean clientFault) {
        teeSent(n);
        teeing = false;
        if (finished) {
            return;
        }
        if (cause == null) {
            done(); // the tee sent the whole body
        } else if (clientFault) {
            failed(new ProxyException(Failure.BAD_REQUEST, "client send failed (tee): " + cause.getMessage()));
        } else {
            next(); // the tee stopped (the fill failed, or could not tee after all): the extent says what is left
        }
    }

    /** How long the current send has waited for the client; 0 when none is pending. */
    long stalledNanos(long now) {
        if (teeing) {
            long since = fill.teeOutputWaitingSinceNanos();
            return since == 0 ? 0 : now - since;
        }
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
        if (teeing) {
            teeing = false;
            if (fill.detachTee(then)) {
                return true; // the tee's poll on the client socket is being cancelled
            }
        }
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
        if (pendingHead != null) {
            pendingHead.release();
            pendingHead = null;
        }
        if (!released) {
            released = true;
            if (extent != null) {
                extent.release();
            }
            if (fill != null) {
                if (fill.awaitsTee(out)) {
                    fill.handOver(null, null); // the leader's client is gone before the tee began: receive
                }
                fill.leave();
            }
        }
    }
}
