package dev.sluice.splice;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import static dev.sluice.splice.UringOps.*;

/**
 * One splice from an input socket through a pooled pipe to an output socket: either an exact byte count
 * ({@link Splicer#transfer}) or until the input's EOF ({@link Splicer#pump}). Confined to the channels' event loop.
 * The same engine sends a region of a shm segment ({@link Splicer#send}): FILL then splices from the segment's fd at
 * an explicit 64-bit offset instead of a socket, or, for SEND_ZC, there is no pipe and DRAIN is an IORING_OP_SEND_ZC
 * from the mapping's address whose notification CQE ends the send.
 *
 * <h2>Two modes ({@value Splicer#MODE_PROPERTY} = inline | uring)</h2>
 * How fills and drains are issued is the transfer's {@link TransferDriver}. <b>inline</b> (default,
 * {@link InlineDriver}): plain splice(2) calls made on the loop thread through FFM, looping until both would block,
 * then a one-shot IORING_OP_POLL_ADD waits for the socket; this is HAProxy's approach. <b>uring</b>
 * ({@link UringDriver}): every fill and drain is an IORING_OP_SPLICE, which io_uring always runs on an io-wq worker
 * thread. The kernel work per byte is the same either way, but each io-wq hop adds a worker wake-up, a context switch
 * and a completion for the loop to reap, so inline costs less CPU per byte and is the default (figures in
 * loadtest/FINDINGS.md, "Splice mode: inline against io_uring"). Inline moves at most
 * {@link UringOps#INLINE_BUDGET} bytes per loop turn and then continues from a task, so one fast transfer cannot
 * starve the loop's other channels. The io_uring mode stays for comparison and as a fallback; a memory source's
 * SEND_ZCs are always io_uring submissions ({@link UringDriver}).
 *
 * <h2>What varies</h2>
 * The source ({@link TransferSpec.Source}): a socket (the only one that can run dry: POLLIN waits, {@link ReadBatching}
 * for a counted body, pumping to EOF), the store's file (fills at explicit offsets; never blocks), or memory (no pipe:
 * DRAIN is a SEND_ZC). Fills and drains of both drivers end in the same two routines, {@link #filled} and
 * {@link #drained}, which keep the accounting and arm the polls. A response body's transfer may also watch its output
 * ({@link HangupWatch}).
 *
 * <h2>Waiting</h2>
 * Both sockets are O_NONBLOCK and every splice has SPLICE_F_NONBLOCK, so a splice returns EAGAIN instead of
 * blocking the loop or parking an io-wq worker. EAGAIN from a drain (issued only while the pipe holds bytes) means the
 * output is full: a one-shot POLL_ADD(POLLOUT) on it. EAGAIN from a fill is ambiguous (input empty, or pipe slots
 * full): with bytes in the pipe or a drain pending the fill waits for the next drain; with an empty, idle pipe the
 * input is empty: POLL_ADD(POLLIN) on it. {@code pipeBytes} counts completed fills minus completed drains; when no
 * operation is in flight it is exactly what the pipe holds.
 *
 * <h2>Ending</h2>
 * The callback runs exactly once, after every SQE the transfer submitted has produced its CQE (outstanding == 0):
 * the fds are never closed under a live splice by us, and the caller may close the channels from the callback.
 * Failure (error, EOF before the count, idle timeout, cancel, channel closed) submits an ASYNC_CANCEL for each
 * in-flight operation and waits for them. The pipe goes back to the pool with the exact count of leftover bytes,
 * which the pool reads and discards (or closes the pipe). A SEND_ZC's notification CQE is the one thing the
 * callback does not wait for (as Netty's write future does not): the slot and the source extent are kept until it
 * arrives, which for a peer that never reads is when the caller closes the channel.
 *
 * <p>No allocation per chunk: the SQE descriptions for the two polls (and the driver's for a full fill and the drain)
 * are built once per transfer; completions arrive through the loop-wide handle with a short user_data of slot and
 * kind. The accounting fields below are written only here; the driver reads them.
 */
final class Transfer implements SpliceTransfer, SlotHolder, ChannelFutureListener {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Transfer.class);

    /** A watched transfer that moved nothing for this long starts watching its output (see {@link #tick}). */
    static final long HANGUP_PROBE_MILLIS = 250;
    static final long HANGUP_PROBE_NANOS = HANGUP_PROBE_MILLIS * 1_000_000L;

    static final int SRC_SOCKET = 0;
    static final int SRC_FILE = 1;
    static final int SRC_MEMORY = 2;

    /**
     * STARTING until Netty's POLLRDHUP is off both channels, RUNNING while bytes move, then either FAILING (cancels
     * in flight, waiting for their CQEs) or SHUTTING_OUTPUT (a pump passing its input's EOF on), and DONE once the
     * callback ran. Only ever moves forward in this order.
     */
    private enum State { STARTING, RUNNING, FAILING, SHUTTING_OUTPUT, DONE }

    private final Splicer splicer;
    final int slot;
    final int source;
    /** The input socket; null when the source is a file or memory. */
    final Channel in;
    final Channel out;
    /** Input socket or file fd; -1 for memory. */
    final int inFd;
    final int outFd;
    private final ChannelLease inLease;
    private final ChannelLease outLease;
    private final boolean pump;
    private final long count;
    private final long idleTimeoutNanos;
    /** Fail with OutputClosedException if the output's peer hangs up while the transfer stalls; null: not watched. */
    private final HangupWatch hangupWatch;
    private final SpliceCallback callback;
    /** The pipe, or null for SEND_ZC. */
    final Pipe pipe;
    /** Set by {@link Splicer#releasePipe}: the pipe went back to the pool (maybe before the slot did). */
    boolean pipeReleased;
    final int pipeCap;
    /** File offset of the next FILL (SRC_FILE) or address of the first byte (SRC_MEMORY). */
    long fileOffset;
    final long address;
    /** Runs once when the transfer ends, before the callback (releases a shm extent reference). */
    private final Runnable onDone;

    /** Issues the fills and drains: splice(2) on the loop, or io_uring submissions. */
    private final TransferDriver driver;

    /** Read batching of a counted socket input (see {@link ReadBatching}); null when this transfer does not batch. */
    private final ReadBatching batching;

    private final IoUringIoOps pollInOp;
    private final IoUringIoOps pollOutOp;

    private State state = State.STARTING;
    /** state == State.DONE, readable from any thread. */
    private volatile boolean done;
    /** Inside {@link #start}: the callback must not run (the caller of transfer()/pump() has not seen the transfer). */
    boolean inStart;
    private Throwable failure;
    /** SQEs submitted whose (first) CQE has not arrived yet. */
    private int outstanding;
    /** SEND_ZC notifications still to come: the kernel may still read the source pages. */
    private int pendingNotifs;
    private boolean retired;
    private int pendingLeases;
    long pollInId;
    long pollOutId;
    /** Bytes still to read from the input (Long.MAX_VALUE for a pump). */
    long remaining;
    long pipeBytes;
    volatile long moved;
    boolean inputDone;
    private long lastProgressNanos;

    /** Called by the {@link Splicer} with the slot (and the pipe, except for a memory source) taken. */
    Transfer(Splicer splicer, int slot, TransferSpec spec, Pipe pipe) {
        this.splicer = splicer;
        this.slot = slot;
        this.out = spec.out();
        this.outLease = spec.outLease();
        this.outFd = outLease.fd;
        this.pump = spec.pump();
        this.count = spec.count();
        this.remaining = pump ? Long.MAX_VALUE : count;
        this.idleTimeoutNanos = spec.idleTimeoutNanos();
        this.hangupWatch = spec.watchOutput() ? new HangupWatch(splicer, outFd, userData(POLL_HUP)) : null;
        this.callback = spec.callback();
        this.onDone = spec.onDone();
        this.pipe = pipe;
        this.pipeCap = pipe == null ? 0 : pipe.capacity;
        switch (spec.source()) {
            case TransferSpec.Source.Socket(Channel ch, ChannelLease lease) -> {
                source = SRC_SOCKET;
                in = ch;
                inLease = lease;
                inFd = lease.fd;
                fileOffset = -1L;
                address = 0L;
            }
            case TransferSpec.Source.StoreFile(int fd, long offset) -> {
                source = SRC_FILE;
                in = null;
                inLease = null;
                inFd = fd;
                fileOffset = offset;
                address = 0L;
            }
            case TransferSpec.Source.Memory(long addr) -> {
                source = SRC_MEMORY;
                in = null;
                inLease = null;
                inFd = -1;
                fileOffset = -1L;
                address = addr;
            }
        }
        assert (pipe == null) == (source == SRC_MEMORY) : "a pipe exactly when the source is not memory";
        SpliceSettings settings = splicer.settings;
        boolean batch = source == SRC_SOCKET && !pump && settings.batching() && splicer.sys != null;
        this.batching = batch ? new ReadBatching(splicer, inLease, userData(BATCH_TIMER)) : null;
        this.pollInOp = source == SRC_SOCKET ? pollAdd(inFd, POLLIN, POLL_IN) : null;
        this.pollOutOp = pollAdd(outFd, POLLOUT, POLL_OUT);
        // Last: the driver reads the fields above.
        this.driver = pipe != null && splicer.inline != null ? new InlineDriver(this, splicer.inline)
                : new UringDriver(this);
    }

    long userData(int kind) {
        return UringOps.userData(slot, kind);
    }

    private IoUringIoOps pollAdd(int fd, int mask, int kind) {
        return UringOps.pollAdd(fd, mask, userData(kind));
    }

    private IoUringIoOps asyncCancel(long target, int kind) {
        return UringOps.asyncCancel(target, userData(kind));
    }

    // ---------------------------------------------------------------- start

    /** Called once by the Splicer right after construction, on the loop. */
    void start() {
        inStart = true;
        try {
            lastProgressNanos = System.nanoTime();
            if (batching != null) {
                batching.started(lastProgressNanos, remaining); // the first wait's batch: the rate since the start
            }
            out.closeFuture().addListener(this);
            outLease.beginUse(false);
            if (in != null) {
                in.closeFuture().addListener(this);
                inLease.beginUse(true);
                acquireRdHup(inLease, DISARM_IN);
            }
            acquireRdHup(outLease, DISARM_OUT);
            if (state == State.STARTING && pendingLeases == 0) {
                state = State.RUNNING;
                advance();
            }
        } finally {
            inStart = false;
        }
        if (state == State.FAILING && outstanding == 0) {
            // Never run the callback from inside transfer()/pump(): defer it to a task.
            eventLoop().execute(this::maybeFinish);
        }
    }

    private EventLoop eventLoop() {
        return out.eventLoop();
    }

    /** Takes Netty's POLLRDHUP away from the channel for the duration (see {@link ChannelLease#takeRdHup}). */
    private void acquireRdHup(ChannelLease lease, int kind) {
        if (state == State.STARTING && lease.takeRdHup(this, kind)) {
            pendingLeases++;
        }
    }

    /** Netty's POLLRDHUP on {@code lease}'s channel is ours ({@code ok}), or stays Netty's. */
    void leaseSettled(ChannelLease lease, boolean ok) {
        if (state == State.DONE) {
            return;
        }
        pendingLeases--;
        if (!ok && lease == inLease) {
            fail(new SpliceRefusedException(FallbackReason.PEER_CLOSING));
        }
        if (state == State.STARTING && pendingLeases == 0) {
            state = State.RUNNING;
            advance();
        }
        maybeFinish();
    }

    // ---------------------------------------------------------------- completions

    /** A CQE for this transfer's slot; runs on the loop. */
    @Override
    public void complete(int kind, int res, int flags) {
        assert eventLoop().inEventLoop();
        if ((flags & CQE_F_NOTIF) != 0) {
            // The kernel let go of the pages of an earlier SEND_ZC. Only the source's release waits for this; the
            // callback does not (like Netty's write future), so a send to a stalled peer can still time out.
            pendingNotifs--;
            if ((res & NOTIF_USAGE_ZC_COPIED) != 0) {
                splicer.metrics.sendZcCopiedNotification();
            }
            maybeRetire();
            return;
        }
        if (kind == BATCH_TIMER) {
            batching.onTimer(res, state == State.RUNNING && pollInId != 0);
            maybeRetire();
            return;
        }
        if (kind == POLL_HUP) {
            onHangupWatch(res);
            return;
        }
        outstanding--;
        assert outstanding >= 0 : "a CQE for an operation never submitted: " + this;
        if ((flags & CQE_F_MORE) != 0) {
            pendingNotifs++; // a SEND_ZC result announcing its notification
        }
        switch (kind) {
            case FILL -> driver.onFill(res);
            case DRAIN -> driver.onDrain(res);
            case POLL_IN -> {
                pollInId = 0;
                onPoll(res, "poll input");
            }
            case POLL_OUT -> {
                pollOutId = 0;
                onPoll(res, "poll output");
            }
            case DISARM_IN -> inLease.rdHupCancelled(this, res);
            case DISARM_OUT -> outLease.rdHupCancelled(this, res);
            default -> {
                // CANCEL: 0, -ENOENT (target already completed) or -EALREADY (running; its CQE follows).
            }
        }
        advance();
        maybeFinish();
    }

    /**
     * The result of one fill ({@code in -> pipe}) in either mode. EAGAIN with bytes in the pipe, or a drain or POLLOUT
     * pending, may mean the pipe's slots are full: the fill waits for the next drain (in inline mode the drain runs
     * again in the same turn, or after its POLLOUT). With an empty, idle pipe the input is empty: wait for it.
     */
    void filled(long r) {
        if (r > 0) {
            remaining -= r;
            pipeBytes += r;
            fileOffset += r;
            assert remaining >= 0 : "a fill never asks for more than is owed: " + this;
        } else if (r == 0) {
            inputDone = true;
        } else if (r == -Syscalls.EAGAIN) {
            if (state == State.RUNNING) {
                if (pipeBytes > 0 || driver.drainInFlight() || pollOutId != 0) {
                    driver.fillAfterDrain();
                } else if (source == SRC_SOCKET) {
                    armPollIn();
                } else {
                    // A file never blocks and the pipe is empty: nothing to wait for.
                    fail(new SpliceIoException("splice file->pipe", Syscalls.EAGAIN));
                }
            }
        } else {
            onError((int) r, source == SRC_SOCKET ? "splice socket->pipe" : "splice file->pipe");
        }
    }

    /**
     * The result of one drain in either mode: a splice {@code pipe -> out}, or for a memory source a SEND_ZC. Returns
     * the bytes it moved (0 when none). EAGAIN means the output is full: wait for POLLOUT. A drain is only issued
     * while there are bytes to move, so 0 can only mean a broken output.
     */
    long drained(long r) {
        if (r > 0) {
            moved += r;
            if (pipe == null) {
                remaining -= r;
                splicer.metrics.sendBytes(SendMechanism.SEND_ZC, r);
            } else {
                pipeBytes -= r;
                if (source == SRC_SOCKET) {
                    splicer.metrics.bytesSpliced(r);
                } else {
                    splicer.metrics.sendBytes(SendMechanism.SPLICE, r);
                }
            }
            // (In uring mode a drain may take bytes of a fill whose CQE is still to come: pipeBytes is exact only
            // with nothing in flight, see checkEnd.)
            assert !(driver instanceof InlineDriver) || pipeBytes >= 0
                    : "a drain never moves more than the pipe held: " + this;
            assert remaining >= 0 : this;
            assert pump || moved <= count : "never more than the count: " + this;
            return r;
        }
        if (r == -Syscalls.EAGAIN) {
            if (state == State.RUNNING) {
                assert pollOutId == 0 : this;
                pollOutId = submitOrFail(pollOutOp);
                splicer.metrics.pollOut();
            }
        } else if (r == 0) {
            if (state == State.RUNNING) {
                fail(new SpliceIoException(pipe == null ? "send_zc sent 0 bytes"
                        : "splice pipe->socket returned 0 with bytes in the pipe", Syscalls.EPIPE));
            }
        } else {
            onError((int) r, pipe == null ? "send_zc" : "splice pipe->socket");
        }
        return 0;
    }

    private void onPoll(int res, String what) {
        if (res < 0) {
            onError(res, what);
        }
        // res > 0 is the ready mask (maybe POLLERR/POLLHUP): the retried splice reports the real outcome.
    }

    private void onError(int res, String what) {
        if (res == -Syscalls.EINTR) {
            return; // advance() retries
        }
        if (state != State.RUNNING) {
            return; // ECANCELED after our own cancel, or anything once we are failing already
        }
        if (res == -Syscalls.ECANCELED) {
            fail(new SpliceCancelledException(what + " cancelled by the kernel or the event loop"));
        } else {
            fail(new SpliceIoException(what, -res));
        }
    }

    // ---------------------------------------------------------------- driving

    /** Issues what can be issued now (see {@link TransferDriver#advance}); nothing unless RUNNING. */
    void advance() {
        if (state != State.RUNNING) {
            return;
        }
        driver.advance();
    }

    boolean running() {
        return state == State.RUNNING;
    }

    /** A fill or drain moved bytes: the idle timeout counts from now. */
    void progressed() {
        lastProgressNanos = System.nanoTime();
    }

    /** With nothing in flight and the pipe empty: the body is complete, or the input ended. */
    void checkEnd() {
        assert outstanding != 0 || (pipeBytes >= 0 && pipeBytes <= pipeCap)
                : "with nothing in flight pipeBytes is what the pipe holds: " + this;
        if (outstanding == 0 && pipeBytes == 0) {
            if (!pump && remaining == 0) {
                finish(null);
            } else if (inputDone) {
                if (pump) {
                    shutdownOutput();
                } else {
                    fail(new PrematureEofException(count, moved));
                }
            }
        }
    }

    /** The input is empty: wait for it with a POLL_ADD, for a batch when this transfer batches. */
    private void armPollIn() {
        if (batching != null) {
            batching.beforePoll(remaining, state == State.RUNNING);
        }
        pollInId = submitOrFail(pollInOp);
        splicer.metrics.pollIn();
    }

    static boolean isOpen(Channel ch) {
        return ((UnixChannel) ch).fd().isOpen();
    }

    private long submit(IoUringIoOps op) {
        long id = splicer.registration().submit(op);
        if (id != 0) {
            outstanding++;
        }
        return id;
    }

    long submitOrFail(IoUringIoOps op) {
        long id = submit(op);
        if (id == 0) {
            fail(new SpliceCancelledException("event loop is shutting down"));
        }
        return id;
    }

    private void shutdownOutput() {
        state = State.SHUTTING_OUTPUT;
        if (!out.isActive()) {
            finish(new SpliceCancelledException("output channel closed before its output was shut down"));
            return;
        }
        ((DuplexChannel) out).shutdownOutput().addListener((ChannelFutureListener) f -> {
            if (state == State.DONE) {
                return;
            }
            finish(f.isSuccess() ? null : new SpliceIoException("shutdownOutput", f.cause()));
        });
    }

    // ---------------------------------------------------------------- failure and cancel

    @Override
    public void fail(Throwable cause) {
        if (state != State.STARTING && state != State.RUNNING) {
            return;
        }
        failure = cause;
        state = State.FAILING;
        driver.cancelInFlight();
        cancelInFlight(pollInId);
        cancelInFlight(pollOutId);
        maybeFinish();
    }

    /** Submits an ASYNC_CANCEL of the operation {@code id} unless it is 0 (none in flight). */
    void cancelInFlight(long id) {
        if (id != 0) {
            // If the registration is gone the loop is shutting down and Netty drains every CQE anyway.
            submit(asyncCancel(id, CANCEL));
        }
    }

    void maybeFinish() {
        if (state == State.FAILING && outstanding == 0 && !inStart) {
            finish(failure);
        }
    }

    @Override
    public void cancel() {
        EventLoop loop = eventLoop();
        if (!loop.inEventLoop()) {
            loop.execute(this::cancel);
            return;
        }
        fail(new SpliceCancelledException("transfer cancelled"));
    }

    /**
     * The splicer's watchdog: fails the transfer when no byte moved for the idle timeout, and when the output is
     * watched, arms the {@link HangupWatch} once nothing moved for {@link #HANGUP_PROBE_NANOS}.
     */
    @Override
    public void tick(long now) {
        if (state != State.RUNNING && state != State.STARTING) {
            return;
        }
        long idle = now - lastProgressNanos;
        if (idleTimeoutNanos > 0 && idle >= idleTimeoutNanos) {
            fail(new SpliceTimeoutException(idleTimeoutNanos, moved));
            return;
        }
        if (hangupWatch != null && !hangupWatch.armed() && state == State.RUNNING && idle >= HANGUP_PROBE_NANOS) {
            hangupWatch.arm();
        }
    }

    private void onHangupWatch(int res) {
        int mask = hangupWatch.onCompletion(res);
        if (mask > 0 && state == State.RUNNING) {
            fail(new OutputClosedException(String.format(
                    "the output's peer closed the connection (poll mask 0x%x) after %d bytes, while no byte moved",
                    mask, moved)));
        }
        maybeRetire();
    }

    /** closeFuture of either channel. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (state == State.STARTING || state == State.RUNNING) {
            fail(new SpliceCancelledException(
                    (future.channel() == in ? "input" : "output") + " channel closed during the transfer"));
        }
    }

    private void finish(Throwable cause) {
        if (state == State.DONE) {
            return;
        }
        // The callback may close the channels: no splice or poll of ours may still refer to their fds.
        assert outstanding == 0 : "finishing with operations in flight: " + this;
        assert cause != null || pump || (moved == count && pipeBytes == 0) : "success moved every byte: " + this;
        state = State.DONE;
        done = true;
        out.closeFuture().removeListener(this);
        boolean rearm = cause == null && !pump;
        if (batching != null) {
            int r = batching.restore(isOpen(in));
            if (r < 0 && rearm) {
                logger.warn("could not restore SO_RCVLOWAT on {} ({}); closing it", in, Syscalls.errnoName(-r));
                in.close();
            }
        }
        if (in != null) {
            in.closeFuture().removeListener(this);
            releaseLease(inLease, true, rearm);
        }
        releaseLease(outLease, false, rearm);
        if (hangupWatch != null) {
            hangupWatch.cancel();
        }
        if (cqesOwedBesideOutstanding() > 0) {
            splicer.releasePipe(this, pipeBytes);
        }
        maybeRetire(); // before the callback, so the pipe is back in the pool for the caller's next transfer
        SpliceMetrics metrics = splicer.metrics;
        metrics.outcome(SpliceOutcome.of(cause));
        if (cause instanceof SpliceRefusedException refused) {
            metrics.fallback(refused.reason());
        }
        try {
            callback.done(moved, cause);
        } catch (Throwable t) {
            logger.warn("splice callback threw", t);
        }
    }

    /**
     * Frees the slot and pipe and runs {@link #onDone} once the transfer is done and no SEND_ZC notification is
     * pending: until then CQEs still arrive for the slot and the kernel may still read the source's pages.
     */
    private void maybeRetire() {
        if (state != State.DONE || pendingNotifs > 0 || cqesOwedBesideOutstanding() > 0 || retired) {
            return;
        }
        retired = true;
        splicer.finished(this, pipeBytes);
        if (onDone != null) {
            try {
                onDone.run();
            } catch (Throwable t) {
                logger.warn("releasing the send's source failed", t);
            }
        }
    }

    /** CQEs of the batch timer and the hang-up watch still to come (not counted in {@code outstanding}). */
    private int cqesOwedBesideOutstanding() {
        return (batching == null ? 0 : batching.cqesOwed()) + (hangupWatch == null ? 0 : hangupWatch.cqesOwed());
    }

    private void releaseLease(ChannelLease lease, boolean reading, boolean rearm) {
        lease.removeWaiter(this);
        lease.endUse(reading, rearm);
    }

    // ---------------------------------------------------------------- SpliceTransfer

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
        return "Transfer[slot=" + slot + ", " + (pump ? "pump" : "count=" + count) + ", moved=" + moved
                + ", state=" + state + ", outstanding=" + outstanding + ']';
    }
}
