package dev.sluice.splice;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;


/**
 * {@link SendMechanism#SENDFILE}: sendfile(2) from a shm store's fd at a 64-bit offset to a non-blocking socket,
 * called on the loop thread (io_uring has no sendfile opcode, and the call never sleeps: the source is memory and the
 * socket is O_NONBLOCK). When the socket's send buffer fills (a short count, or EAGAIN) the send waits for POLLOUT
 * with a one-shot IORING_OP_POLL_ADD on the loop's ring, as {@link Transfer}'s inline mode does, and at most
 * {@link Transfer#INLINE_BUDGET} bytes go per loop turn so one fast send cannot starve the loop's other channels.
 *
 * <p>Completion tracking is SPLICE's: sendfile is splice through a pipe private to the calling thread, so the socket
 * buffers keep references to the file's pages after the call returned; the splicer marks the extent spliced before
 * the first call (its store punches the region out before reusing it), and the extent reference ({@code onDone}) is
 * dropped when the last call returned, before the callback. A short send costs little: the kernel takes references
 * to the pages (no copy) into that pipe, and drops the ones the socket did not take; the next call takes them again.
 *
 * <p>Netty's POLLRDHUP on the output stays armed (unlike a {@link Transfer}, which takes it away so that Netty cannot
 * close the fd under an io-wq splice): every sendfile runs on the loop after checking that the fd is still open, and
 * the only operation in flight, the POLLOUT poll, holds its own reference to the socket. So the output behaves as
 * under a {@link SendMechanism#WRITE}: if its peer half-closes, Netty sees it, and if Netty closes the channel the
 * send ends with {@link SpliceCancelledException}. It also saves the ASYNC_CANCEL that disarming costs per send.
 *
 * <p>The callback runs exactly once, on the loop, never inside {@link Splicer#send}, and only after every SQE this
 * send submitted (the poll, its cancel) has produced its CQE, so the caller may close the channel from it. No
 * allocation per chunk: the poll's SQE is built once per send, the syscall's arguments live in the loop's
 * {@link Syscalls.Splice}.
 */
final class SendfileSend implements SpliceTransfer, SlotHolder, ChannelFutureListener {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(SendfileSend.class);

    private static final int RUNNING = 0;
    private static final int FAILING = 1;
    private static final int DONE = 2;

    private final Splicer splicer;
    final int slot;
    private final Channel out;
    private final ChannelLease outLease;
    private final int outFd;
    private final int fileFd;
    private final long idleTimeoutNanos;
    private final SpliceCallback callback;
    /** Runs once when the send ends, before the callback: releases the extent reference. */
    private final Runnable onDone;
    private final Syscalls.Splice sys;
    private final IoUringIoOps pollOutOp;
    private final Runnable resume = this::resume;

    /** File offset of the next byte to send, and the bytes still to send. */
    private long fileOffset;
    private long remaining;
    private volatile long moved;
    /** state == DONE, readable from any thread. */
    private volatile boolean done;
    private int state = RUNNING;
    private boolean inStart;
    private Throwable failure;
    /** SQEs submitted (the poll, a cancel) whose CQE has not arrived: the send ends only at 0. */
    private int outstanding;
    private long pollOutId;
    private boolean resumeQueued;
    private long lastProgressNanos;

    SendfileSend(Splicer splicer, int slot, int fileFd, long fileOffset, long length, Channel out,
                 ChannelLease outLease, long idleTimeoutNanos, SpliceCallback callback, Runnable onDone) {
        this.splicer = splicer;
        this.slot = slot;
        this.out = out;
        this.outLease = outLease;
        this.outFd = outLease.fd;
        this.fileFd = fileFd;
        this.fileOffset = fileOffset;
        this.remaining = length;
        this.idleTimeoutNanos = idleTimeoutNanos;
        this.callback = callback;
        this.onDone = onDone;
        this.sys = splicer.sys;
        this.pollOutOp = UringOps.pollAdd(outFd, UringOps.POLLOUT, UringOps.userData(slot, UringOps.POLL_OUT));
    }

    /** Called once by the splicer, on the loop, with the slot taken; the first sendfile runs from a task. */
    void start() {
        inStart = true;
        try {
            lastProgressNanos = System.nanoTime();
            outLease.beginUse(false);
            out.closeFuture().addListener(this); // (runs at once if the channel closed already)
            // Not here: a small region would be sent, and the callback run, inside Splicer.send.
            queueResume();
        } finally {
            inStart = false;
        }
    }

    private EventLoop eventLoop() {
        return out.eventLoop();
    }

    private void queueResume() {
        if (!resumeQueued) {
            resumeQueued = true;
            eventLoop().execute(resume);
        }
    }

    private void resume() {
        resumeQueued = false;
        advance();
        maybeFinish();
    }

    /** Sends until the region is done, the socket is full (then POLLOUT) or the budget is spent (then a task). */
    private void advance() {
        if (state != RUNNING || pollOutId != 0) {
            return;
        }
        long budget = UringOps.INLINE_BUDGET;
        while (remaining > 0) {
            if (!((UnixChannel) out).fd().isOpen()) {
                // Netty closed it (its close listener may not have run yet): the fd number may be reused.
                fail(new SpliceCancelledException("output channel closed"));
                return;
            }
            long want = Math.min(remaining, budget);
            long r = sys.sendfile(outFd, fileFd, fileOffset, want);
            if (r > 0) {
                fileOffset += r;
                remaining -= r;
                moved += r;
                budget -= r;
                splicer.metrics.sendBytes(SendMechanism.SENDFILE, r);
                lastProgressNanos = System.nanoTime();
                if (r < want) {
                    // The send buffer is full: calling again now would only return EAGAIN.
                    armPollOut();
                    return;
                }
                if (budget <= 0 && remaining > 0) {
                    queueResume();
                    return;
                }
            } else if (r == -Syscalls.EAGAIN) {
                armPollOut();
                return;
            } else if (r == 0) {
                // Only at the file's end, which the store's size rules out for an extent inside it.
                fail(new SpliceIoException("sendfile returned 0: the file ended before the region", Syscalls.EIO));
                return;
            } else if (r != -Syscalls.EINTR) {
                fail(new SpliceIoException("sendfile", (int) -r));
                return;
            }
        }
        finish(null);
    }

    private void armPollOut() {
        long id = splicer.registration().submit(pollOutOp);
        if (id == 0) {
            fail(new SpliceCancelledException("event loop is shutting down"));
            return;
        }
        outstanding++;
        pollOutId = id;
        splicer.metrics.pollOut();
    }

    /** The POLLOUT poll's CQE, or the CQE of the cancel {@link #fail} submitted for it. */
    @Override
    public void complete(int kind, int res, int flags) {
        outstanding--;
        if (kind == UringOps.POLL_OUT) {
            pollOutId = 0;
            // res > 0 is the ready mask (maybe POLLERR/POLLHUP): the next sendfile reports the real outcome.
            if (res < 0 && res != -Syscalls.EINTR && state == RUNNING) {
                fail(res == -Syscalls.ECANCELED
                        ? new SpliceCancelledException("poll output cancelled by the kernel or the event loop")
                        : new SpliceIoException("poll output", -res));
            }
        }
        // CANCEL: 0, -ENOENT (the poll completed first) or -EALREADY; the poll's own CQE is counted apart.
        advance();
        maybeFinish();
    }

    @Override
    public void fail(Throwable cause) {
        if (state != RUNNING) {
            return;
        }
        failure = cause;
        state = FAILING;
        if (pollOutId != 0) {
            // If the registration is gone the loop is shutting down, and Netty completes the poll anyway.
            long id = splicer.registration().submit(
                    UringOps.asyncCancel(pollOutId, UringOps.userData(slot, UringOps.CANCEL)));
            if (id != 0) {
                outstanding++;
            }
        }
        maybeFinish();
    }

    private void maybeFinish() {
        if (state == FAILING && outstanding == 0) {
            if (inStart) {
                eventLoop().execute(this::maybeFinish); // never inside Splicer.send
            } else {
                finish(failure);
            }
        }
    }

    @Override
    public void cancel() {
        EventLoop loop = eventLoop();
        if (!loop.inEventLoop()) {
            loop.execute(this::cancel);
            return;
        }
        fail(new SpliceCancelledException("send cancelled"));
    }

    /** The splicer's watchdog: fails the send when no byte went out for the idle timeout. */
    @Override
    public void tick(long now) {
        if (state == RUNNING && idleTimeoutNanos > 0 && now - lastProgressNanos >= idleTimeoutNanos) {
            fail(new SpliceTimeoutException(idleTimeoutNanos, moved));
        }
    }

    /** closeFuture of the output. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (state == RUNNING) {
            fail(new SpliceCancelledException("output channel closed during the send"));
        }
    }

    /** Every CQE is in: free the slot, release the extent, then run the callback. */
    private void finish(Throwable cause) {
        state = DONE;
        done = true;
        out.closeFuture().removeListener(this);
        outLease.endUse(false, cause == null);
        splicer.finished(slot);
        try {
            onDone.run();
        } catch (Throwable t) {
            logger.warn("releasing the send's source failed", t);
        }
        splicer.metrics.outcome(SpliceOutcome.of(cause));
        try {
            callback.done(moved, cause);
        } catch (Throwable t) {
            logger.warn("send callback threw", t);
        }
    }

    @Override
    public long bytesMoved() {
        return moved;
    }

    @Override
    public boolean isDone() {
        return done;
    }

    @Override
    public String toString() {
        return "SendfileSend[slot=" + slot + ", moved=" + moved + ", remaining=" + remaining + ", state=" + state
                + ", outstanding=" + outstanding + ']';
    }
}
