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
 * A cache fill by tee(2) ({@link Splicer#tee}): exactly {@code count} bytes go {@code input socket -> in pipe}, are
 * duplicated into the {@code out pipe} (tee: page references, no copy), stored from the in pipe into a file at an
 * explicit offset (a shm store's memfd: the one copy of each byte), and spliced from the out pipe to the output
 * socket (the client that caused the miss: zero-copy). The input is read only while the in pipe is empty and the
 * out pipe has room, so at most one pipe's worth of bytes waits for the output, and the input is never read past
 * {@code count}.
 *
 * <p>The sketch sends the first pipe to the client and stores the second; here, as in {@code FillBench},
 * the roles are swapped (the same work: after a tee both pipes reference the same buffers) because tee always
 * duplicates from the head of its input. Bytes the client socket did not take wait in the out pipe, already teed;
 * had they waited in the in pipe, the next tee would duplicate them again.
 *
 * <p>Every byte is stored the moment it was teed, so the output never gets a byte before it is in the file, and
 * {@link Listener#stored} reports only bytes the file holds. The two sides end apart: the store side ends when all
 * {@code count} bytes are stored (the input is then given back at once, before {@code stored} reports the total,
 * so the caller may pool the connection from that call); the output side when it sent them all, failed, or was
 * {@linkplain #detachOutput detached}, after which the tee goes on storing without the out pipe. An input that
 * ends early, errs or closes fails the whole tee.
 *
 * <p>All splices and tees are plain syscalls on the loop thread (the sockets are O_NONBLOCK; a pipe-to-file splice
 * of bytes the pipe holds never waits), at most {@link Transfer#INLINE_BUDGET} bytes per loop turn; a socket that
 * would block is waited for with a one-shot IORING_OP_POLL_ADD, as {@link Transfer}'s inline mode and
 * {@link SendfileSend} do. As in a transfer, Netty's POLLRDHUP on the input is cancelled before the first splice
 * (a fired one makes Netty read the socket under us); on the output it stays armed, as for a sendfile: nothing but
 * the poll, which holds its own reference to the socket, is ever in flight on it, and each splice checks the fd is
 * still open. No idle timer: the caller watches the store's progress and the output's stall
 * ({@link #outputWaitingSinceNanos}) itself.
 *
 * <p>{@link Listener#done} runs exactly once, on the loop, never inside {@link Splicer#tee}, after every SQE the tee
 * submitted has its CQE and both pipes went back to the pool (with the exact count of bytes left in them, which
 * the pool drains or discards). No allocation per chunk. Loop-confined.
 */
public final class TeeFill implements SlotHolder, ChannelFutureListener {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(TeeFill.class);

    /** The caller's side of a tee; every call on the loop. */
    public interface Listener {
        /** Bytes [0, stored) of the region are in the file now. */
        void stored(long stored);

        /** The output took bytes: {@code sent} in all. */
        void sent(long sent);

        /**
         * The output side ended on its own (not by {@link #detachOutput}): all bytes sent ({@code cause} null), the
         * output failed ({@code outputFault}: its peer reset, or the channel closed), or the whole tee failed.
         */
        void outputEnded(long sent, Throwable cause, boolean outputFault);

        /** The tee is over, every CQE in and the pipes returned: all {@code count} bytes stored, or {@code cause}. */
        void done(long stored, Throwable cause);
    }

    private static final int STARTING = 0;
    private static final int RUNNING = 1;
    private static final int FAILING = 2;
    private static final int DONE = 3;

    private final Splicer splicer;
    final int slot;
    private final Channel in;
    private final ChannelLease inLease;
    private final int inFd;
    private Channel out;
    private final ChannelLease outLease;
    private final int outFd;
    private final int fileFd;
    private final long fileOffset;
    private final long count;
    private final Listener listener;
    private final Syscalls.Splice sys;
    private final IoUringIoOps pollInOp;
    private final IoUringIoOps pollOutOp;
    private final Runnable resume = this::resume;

    private Pipe inPipe;
    private Pipe outPipe;
    /** Bytes read from the input, stored into the file, sent to the output; bytes each pipe holds now. */
    private long read;
    private long stored;
    private long sent;
    private long inPipeBytes;
    private long outPipeBytes;
    private boolean inputReleased;
    private int state = STARTING;
    private boolean inStart;
    private boolean resumeQueued;
    private Throwable failure;
    /** SQEs submitted (disarm, polls, cancels) whose CQE has not arrived: the tee ends only at 0. */
    private int outstanding;
    private long pollInId;
    private long pollOutId;
    /** When the output last made the tee wait (0: it is not waiting for the output). */
    private long outputWaitNanos;
    /** Runs when the poll of a detached output completed (the caller may close that socket then). */
    private Runnable outputFreed;

    TeeFill(Splicer splicer, int slot, Channel in, ChannelLease inLease, Channel out, ChannelLease outLease,
            int fileFd, long fileOffset, long count, Pipe inPipe, Pipe outPipe, Listener listener) {
        this.splicer = splicer;
        this.slot = slot;
        this.in = in;
        this.inLease = inLease;
        this.inFd = inLease.fd;
        this.out = out;
        this.outLease = outLease;
        this.outFd = outLease.fd;
        this.fileFd = fileFd;
        this.fileOffset = fileOffset;
        this.count = count;
        this.inPipe = inPipe;
        this.outPipe = outPipe;
        this.listener = listener;
        this.sys = splicer.sys;
        this.pollInOp = UringOps.pollAdd(inFd, UringOps.POLLIN, UringOps.userData(slot, UringOps.POLL_IN));
        this.pollOutOp = UringOps.pollAdd(outFd, UringOps.POLLOUT, UringOps.userData(slot, UringOps.POLL_OUT));
    }

    /** Called once by the splicer, on the loop, with the slot and pipes taken; the first splice runs from a task. */
    void start() {
        inStart = true;
        try {
            inLease.beginUse(true);
            outLease.beginUse(false);
            in.closeFuture().addListener(this);
            out.closeFuture().addListener(this);
            if (inLease.rdhup == ChannelLease.RDHUP_NETTY) {
                // The splicer checked that it is armed. Take it away and start once the kernel confirmed.
                long id = splicer.registration().submit(UringOps.asyncCancel(NettyUring.pollRdhupId(in),
                        UringOps.userData(slot, UringOps.DISARM_IN)));
                if (id == 0) {
                    fail(new SpliceCancelledException("event loop is shutting down"));
                } else {
                    outstanding++;
                    inLease.rdhup = ChannelLease.RDHUP_DISARMING;
                }
            } else {
                state = RUNNING;
                queueResume();
            }
        } finally {
            inStart = false;
        }
        if (state == FAILING) {
            eventLoop().execute(this::maybeFinish);
        }
    }

    private EventLoop eventLoop() {
        return in.eventLoop();
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

    /** Moves bytes until every side would block, the budget is spent (then a task), or the tee ends. */
    private void advance() {
        long budget = UringOps.INLINE_BUDGET;
        while (state == RUNNING) {
            boolean progress = false;
            if (inPipeBytes > 0) {
                long n = inPipeBytes; // without an output: stored straight from the in pipe
                if (out != null) {
                    n = sys.tee(inPipe.readFd, outPipe.writeFd, inPipeBytes, UringOps.SPLICE_F_NONBLOCK);
                    if (n == -Syscalls.EAGAIN && outPipeBytes > 0) {
                        n = 0; // the out pipe is full: the output must take some first
                    } else if (n <= 0 && n != -Syscalls.EINTR) {
                        fail(new SpliceIoException("tee", n == 0 ? Syscalls.EIO : (int) -n));
                        return;
                    }
                }
                if (n > 0) {
                    if (out != null) {
                        outPipeBytes += n;
                    }
                    if (!store(n)) {
                        return;
                    }
                    budget -= n;
                    progress = true;
                }
            }
            if (state == RUNNING && inPipeBytes == 0 && read < count && pollInId == 0) {
                long want = Math.min(count - read, inPipe.capacity - (out != null ? outPipeBytes : 0));
                if (want > 0) {
                    long r = sys.splice(inFd, inPipe.writeFd, want, UringOps.SPLICE_F_MOVE | UringOps.SPLICE_F_NONBLOCK);
                    if (r > 0) {
                        read += r;
                        inPipeBytes = r;
                        progress = true;
                    } else if (r == 0) {
                        fail(new PrematureEofException(count, read));
                        return;
                    } else if (r == -Syscalls.EAGAIN) {
                        pollIn();
                    } else if (r != -Syscalls.EINTR) {
                        fail(new SpliceIoException("splice from the input", (int) -r));
                        return;
                    }
                }
            }
            if (state == RUNNING && out != null && outPipeBytes > 0 && pollOutId == 0) {
                progress |= send();
            }
            if (!progress) {
                return;
            }
            if (budget <= 0) {
                queueResume();
                return;
            }
        }
    }

    /** Stores the next {@code n} bytes of the in pipe into the file; false when the tee failed. */
    private boolean store(long n) {
        for (long left = n; left > 0; ) {
            long r = sys.spliceTo(inPipe.readFd, fileFd, fileOffset + stored, left, UringOps.SPLICE_F_MOVE);
            if (r > 0) {
                stored += r;
                inPipeBytes -= r;
                left -= r;
            } else if (r != -Syscalls.EINTR) {
                fail(new SpliceIoException("splice into the file", r == 0 ? Syscalls.EIO : (int) -r));
                return false;
            }
        }
        if (stored == count) {
            releaseInput(true); // before the caller hears of it: it may pool the connection from stored()
        }
        listener.stored(stored);
        return state == RUNNING;
    }

    /** One splice from the out pipe to the output; true when it moved bytes. */
    private boolean send() {
        if (!((UnixChannel) out).fd().isOpen()) {
            // Netty closed it (its close listener may not have run yet): the fd number may be reused.
            endOutput(new SpliceCancelledException("output channel closed"), true);
            return true;
        }
        long r = sys.splice(outPipe.readFd, outFd, outPipeBytes, UringOps.SPLICE_F_MOVE | UringOps.SPLICE_F_NONBLOCK);
        if (r > 0) {
            sent += r;
            outPipeBytes -= r;
            outputWaitNanos = 0;
            splicer.metrics.bytesSpliced(r);
            listener.sent(sent);
            if (sent == count && out != null) {
                endOutput(null, true);
            }
            return true;
        }
        if (r == -Syscalls.EAGAIN) {
            if (outputWaitNanos == 0) {
                outputWaitNanos = System.nanoTime();
            }
            long id = splicer.registration().submit(pollOutOp);
            if (id == 0) {
                fail(new SpliceCancelledException("event loop is shutting down"));
            } else {
                outstanding++;
                pollOutId = id;
                splicer.metrics.pollOut();
            }
            return false;
        }
        if (r != -Syscalls.EINTR) {
            endOutput(new SpliceIoException("splice to the output", (int) -r), true); // the store side goes on
            return true;
        }
        return false;
    }

    private void pollIn() {
        long id = splicer.registration().submit(pollInOp);
        if (id == 0) {
            fail(new SpliceCancelledException("event loop is shutting down"));
            return;
        }
        outstanding++;
        pollInId = id;
        splicer.metrics.pollIn();
    }

    /**
     * Stops the output side (its client left): nothing more is spliced to it, the bytes waiting for it are dropped,
     * and the tee goes on storing. Returns true when a poll on the output is still in flight: {@code freed} runs once
     * it completed, and only then should the caller close that socket. No {@link Listener#outputEnded} follows.
     */
    public boolean detachOutput(Runnable freed) {
        if (out == null) {
            return false;
        }
        endOutput(null, false);
        if (pollOutId != 0) {
            outputFreed = freed;
            return true;
        }
        return false;
    }

    /** Ends the output side: its pipe goes back (its bytes dropped) and its poll is cancelled. */
    private void endOutput(Throwable cause, boolean notify) {
        Channel o = out;
        out = null;
        outputWaitNanos = 0;
        o.closeFuture().removeListener(this);
        outLease.endUse(false, cause == null);
        splicer.returnPipe(outPipe, outPipeBytes);
        outPipe = null;
        outPipeBytes = 0;
        if (pollOutId != 0) {
            cancel(pollOutId);
        }
        if (notify) {
            listener.outputEnded(sent, cause, cause != null && state == RUNNING);
        }
        if (state == RUNNING) {
            queueResume(); // the tee may have been waiting for the output
        }
    }

    /** The input is no longer used: its lease, close listener and pipe go back. */
    private void releaseInput(boolean ok) {
        if (inputReleased) {
            return;
        }
        inputReleased = true;
        in.closeFuture().removeListener(this);
        inLease.endUse(true, ok);
        splicer.returnPipe(inPipe, inPipeBytes);
        inPipe = null;
        inPipeBytes = 0;
    }

    /** Since when the tee has been waiting for the output to take bytes while the input could go on; else 0. */
    public long outputWaitingSinceNanos() {
        return pollInId == 0 && pollOutId != 0 ? outputWaitNanos : 0;
    }

    private void cancel(long target) {
        // If the registration is gone the loop is shutting down, and Netty completes the operation anyway.
        if (splicer.registration().submit(UringOps.asyncCancel(target, UringOps.userData(slot, UringOps.CANCEL))) != 0) {
            outstanding++;
        }
    }

    @Override
    public void complete(int kind, int res, int flags) {
        outstanding--;
        switch (kind) {
            case UringOps.DISARM_IN -> {
                // 0: cancelled. -ENOENT/-EALREADY: it fired already, and Netty is reading the input itself.
                inLease.rdHupCancelled(null, res);
                if (state == STARTING) {
                    if (res == 0) {
                        state = RUNNING;
                    } else {
                        fail(new SpliceRefusedException(FallbackReason.PEER_CLOSING));
                    }
                }
            }
            case UringOps.POLL_IN -> {
                pollInId = 0;
                if (res < 0 && res != -Syscalls.EINTR && state == RUNNING) {
                    fail(new SpliceIoException("poll input", -res));
                }
            }
            case UringOps.POLL_OUT -> {
                pollOutId = 0;
                if (out == null) {
                    Runnable freed = outputFreed;
                    outputFreed = null;
                    if (freed != null) {
                        freed.run();
                    }
                } else if (res < 0 && res != -Syscalls.EINTR && state == RUNNING) {
                    endOutput(new SpliceIoException("poll output", -res), true);
                }
            }
            default -> {
                // CANCEL: 0, -ENOENT or -EALREADY; the cancelled operation's own CQE is counted apart.
            }
        }
        advance();
        maybeFinish();
    }

    /** Ends the tee with {@code cause}; {@link Listener#done} follows once every CQE is in. */
    @Override
    public void fail(Throwable cause) {
        if (state == FAILING || state == DONE) {
            return;
        }
        failure = cause;
        state = FAILING;
        if (pollInId != 0) {
            cancel(pollInId);
        }
        if (pollOutId != 0) {
            cancel(pollOutId);
        }
        if (!inStart) {
            maybeFinish();
        }
    }

    /** Stops the tee (the fill was discarded): no byte is read, stored or sent after this returns. */
    public void cancel() {
        fail(new SpliceCancelledException("tee cancelled"));
    }

    /** Close listener of either channel. */
    @Override
    public void operationComplete(ChannelFuture f) {
        if (state == DONE) {
            return;
        }
        if (f.channel() == out) {
            endOutput(new SpliceCancelledException("output channel closed during the tee"), true);
        } else if (f.channel() == in && !inputReleased) {
            fail(new SpliceCancelledException("input channel closed during the tee"));
        }
    }

    private void maybeFinish() {
        if (outstanding != 0 || inStart || state == DONE) {
            return;
        }
        if (state == FAILING || (state == RUNNING && stored == count && out == null)) {
            finish(state == FAILING ? failure : null);
        }
    }

    private void finish(Throwable cause) {
        state = DONE;
        if (out != null) {
            endOutput(cause, true);
        }
        releaseInput(cause == null);
        splicer.finished(slot);
        splicer.metrics.outcome(SpliceOutcome.of(cause));
        try {
            listener.done(stored, cause);
        } catch (Throwable t) {
            logger.warn("tee callback threw", t);
        }
    }

    public long stored() {
        return stored;
    }

    public long sent() {
        return sent;
    }

    public boolean isDone() {
        return state == DONE;
    }

    @Override
    public String toString() {
        return "TeeFill[slot=" + slot + ", read=" + read + ", stored=" + stored + ", sent=" + sent + "/" + count
                + ", state=" + state + ", outstanding=" + outstanding + ']';
    }
}
