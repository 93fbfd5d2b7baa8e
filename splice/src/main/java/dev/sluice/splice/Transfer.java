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

import java.util.ArrayList;

/**
 * One splice from an input socket through a pooled pipe to an output socket: either an exact byte count
 * ({@link Splicer#transfer}) or until the input's EOF ({@link Splicer#pump}). Confined to the channels' event loop.
 * The same engine sends a region of a shm segment ({@link Splicer#send}): FILL then splices from the segment's fd at
 * an explicit 64-bit offset instead of a socket, or, for SEND_ZC, there is no pipe and DRAIN is an IORING_OP_SEND_ZC
 * from the mapping's address whose notification CQE ends the send.
 *
 * <h2>Two modes ({@value Splicer#MODE_PROPERTY} = inline | uring)</h2>
 * <b>inline</b> (default): fills and drains are plain splice(2) calls made on the loop thread through FFM, looping
 * until both would block, then a one-shot IORING_OP_POLL_ADD waits for the socket ({@link #advanceInline}); this is
 * HAProxy's approach. <b>uring</b>: every fill and drain is an IORING_OP_SPLICE, which io_uring always runs on an
 * io-wq worker thread. Measured on 64 MiB pass-throughs (loopback, 1 MiB pipes, 2 cores; see the commit message):
 * the kernel work per byte is the same either way, but each io-wq hop adds a worker wake-up, a context switch and
 * a completion for the loop to reap (uring: ~20k submissions and ~20k context switches per 5 s; inline: ~2k and
 * ~4k), so inline cost ~0.33-0.36 CPU-s/GiB against 0.41-0.47 for uring in the same runs. Inline moves at most
 * {@link #INLINE_BUDGET} bytes per loop turn and then continues from a task, so one fast transfer cannot starve
 * the loop's other channels (1 MiB instead of 4 did not lower the p50 of small requests mixed with 64 MiB ones, and
 * cost more CPU). The io_uring mode stays for comparison and as a fallback.
 *
 * <p>Caveat for comparisons on loopback: a receiver's TCP work runs in the sender's context, so CPU per process
 * depends on who sends when. HAProxy (epoll, reads as soon as data arrives) costs itself ~0.2 CPU-s/GiB but its
 * origin 2x what ours does; proxy + origin CPU per GiB, same runs: inline 0.60-0.62, copy 0.60-0.61, uring
 * 0.70-0.71, HAProxy splice 0.73-0.74.
 *
 * <h2>How it moves bytes (uring mode)</h2>
 * Two splices, each driven from the other's completions (no linked SQE chains: a short splice would fail the rest
 * of a chain): FILL {@code in -> pipe} and DRAIN {@code pipe -> out}, at most one of each in flight, so a fill and a
 * drain overlap on two io-wq workers. FILL never asks for more than the bytes still owed ({@code remaining}), so
 * the input is never read past the body. {@code pipeBytes} counts completed fills minus completed drains; when no
 * operation is in flight it is exactly what the pipe holds.
 *
 * <p>Both sockets are O_NONBLOCK and every splice has SPLICE_F_NONBLOCK, so a splice returns EAGAIN instead of
 * parking an io-wq worker. EAGAIN from DRAIN (issued only while the pipe holds bytes) means the output is full: a
 * one-shot POLL_ADD(POLLOUT) on it. EAGAIN from FILL is ambiguous (input empty, or pipe slots full): with bytes in
 * the pipe or a drain pending the fill waits for the next drain completion; with an empty, idle pipe the input is
 * empty: POLL_ADD(POLLIN) on it.
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
 * <p>No allocation per chunk: the SQE descriptions for a full fill, the drain and the two polls are built once per
 * transfer (a drain asks for the whole pipe capacity; a splice from a pipe takes what the pipe holds, and the pipe
 * only ever holds this transfer's bytes); completions arrive through the loop-wide handle with a short user_data of
 * slot and kind.
 */
final class Transfer implements SpliceTransfer, SlotHolder, ChannelFutureListener {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Transfer.class);
    private static final java.util.concurrent.atomic.AtomicBoolean LOGGED_LOWAT_FAILURE =
            new java.util.concurrent.atomic.AtomicBoolean();

    // Operation kinds, the low 4 bits of the user_data.
    static final int FILL = 0;
    static final int DRAIN = 1;
    static final int POLL_IN = 2;
    static final int POLL_OUT = 3;
    static final int CANCEL = 4;
    static final int DISARM_IN = 5;
    static final int DISARM_OUT = 6;
    /** The timer bounding a batched input wait, and its removal (not counted in {@code outstanding}). */
    static final int BATCH_TIMER = 7;
    /** The watch for the output's peer hanging up, and its cancellation (not counted in {@code outstanding}). */
    static final int POLL_HUP = 8;
    /** A watched transfer that moved nothing for this long starts watching its output (see {@link #tick}). */
    static final long HANGUP_PROBE_MILLIS = 250;
    static final long HANGUP_PROBE_NANOS = HANGUP_PROBE_MILLIS * 1_000_000L;

    static final byte OP_TIMEOUT = 11;
    static final byte OP_TIMEOUT_REMOVE = 12;
    /** A batched wait lasts at most this many batch delays; then any queued byte wakes the loop. */
    static final int BATCH_HOLD_FACTOR = 2;
    static final byte OP_SPLICE = 30;
    static final byte OP_SEND_ZC = 47;
    static final int CQE_F_MORE = 1 << 1;
    static final int CQE_F_NOTIF = 1 << 3;
    /** In a SEND_ZC notification's res: the kernel copied the bytes after all (e.g. loopback). */
    static final int NOTIF_USAGE_ZC_COPIED = 1 << 31;
    static final int MSG_NOSIGNAL = 0x4000;
    /** SEND_ZC flag (in ioprio): the notification reports whether the kernel copied after all. */
    static final short SEND_ZC_REPORT_USAGE = 1 << 3;
    /** Inline mode (and every sendfile): bytes moved in one go before yielding the loop to its other channels. */
    static final long INLINE_BUDGET = 4L << 20;
    /** Largest single SEND_ZC; the rest follows from the completion. */
    private static final int MAX_SEND = 1 << 30;

    static final int SRC_SOCKET = 0;
    static final int SRC_FILE = 1;
    static final int SRC_MEMORY = 2;
    static final int SPLICE_F_MOVE = 1;
    static final int SPLICE_F_NONBLOCK = 2;
    static final int POLLIN = 0x1;
    static final int POLLOUT = 0x4;
    static final int POLLRDHUP = 0x2000;

    private static final int STARTING = 0;
    private static final int RUNNING = 1;
    private static final int FAILING = 2;
    private static final int SHUTTING_OUTPUT = 3;
    private static final int DONE = 4;

    private final Splicer splicer;
    final int slot;
    private final int source;
    /** The input socket; null when the source is a file or memory. */
    private final Channel in;
    private final Channel out;
    /** Input socket or file fd; -1 for memory. */
    private final int inFd;
    private final int outFd;
    private final ChannelLease inLease;
    private final ChannelLease outLease;
    private final boolean pump;
    private final long count;
    private final long idleTimeoutNanos;
    /** Fail with OutputClosedException if the output's peer hangs up while the transfer stalls. */
    private final boolean watchOutput;
    /** The pending POLL_ADD(POLLRDHUP) on the output (0: none), whether one was ever armed, CQEs it still owes. */
    private long hupId;
    private boolean hupArmed;
    private int hupCqes;
    private final SpliceCallback callback;
    /** The pipe, or null for SEND_ZC. */
    final Pipe pipe;
    /** Set by {@link Splicer#releasePipe}: the pipe went back to the pool (maybe before the slot did). */
    boolean pipeReleased;
    private final int pipeCap;
    /** File offset of the next FILL (SRC_FILE) or address of the first byte (SRC_MEMORY). */
    private long fileOffset;
    private final long address;
    /** Runs once when the transfer ends, before the callback (releases a shm extent reference). */
    private final Runnable onDone;

    /** splice(2) on the loop thread (inline mode), or null: fills and drains are IORING_OP_SPLICEs. */
    private final Syscalls.Splice inline;
    private final Runnable resume = this::resumeInline;
    private boolean resumeQueued;

    /** Read batching (see {@link #armPollIn}): largest SO_RCVLOWAT, 0 when off for this transfer. */
    private int batchMax;
    private final long batchDelayNanos;
    /** SO_RCVLOWAT now set on the input socket (1 is the kernel's default, which Netty expects back). */
    private int rcvLowat = 1;
    /** When the previous input poll was armed (at first: when the transfer started) and the bytes then still owed. */
    private long armNanos;
    private long armRemaining;
    /** The pending IORING_OP_TIMEOUT bounding a batched wait (0: none), and CQEs still owed to this slot by it. */
    private long batchTimerId;
    private int timerCqes;
    private final IoUringIoOps batchTimerOp;

    private final IoUringIoOps fillOp;
    private final IoUringIoOps drainOp;
    private final IoUringIoOps pollInOp;
    private final IoUringIoOps pollOutOp;
    private IoUringIoOps tailFillOp;
    private int tailFillLen;

    private int state = STARTING;
    /** state == DONE, readable from any thread. */
    private volatile boolean done;
    private boolean inStart;
    private Throwable failure;
    /** SQEs submitted whose (first) CQE has not arrived yet. */
    private int outstanding;
    /** SEND_ZC notifications still to come: the kernel may still read the source pages. */
    private int pendingNotifs;
    private boolean retired;
    private int pendingLeases;
    private long fillId;
    private long drainId;
    private long pollInId;
    private long pollOutId;
    /** Bytes still to read from the input (Long.MAX_VALUE for a pump). */
    private long remaining;
    private long pipeBytes;
    private volatile long moved;
    private boolean inputDone;
    private boolean fillWaitsForDrain;
    private long lastProgressNanos;

    private Transfer(Splicer splicer, int slot, int source, Channel in, ChannelLease inLease, int inFd,
                     Channel out, ChannelLease outLease, boolean pump, long count, long idleTimeoutNanos,
                     boolean watchOutput, SpliceCallback callback, Pipe pipe, long fileOffset, long address,
                     Runnable onDone) {
        this.splicer = splicer;
        this.slot = slot;
        this.source = source;
        this.in = in;
        this.out = out;
        this.inLease = inLease;
        this.outLease = outLease;
        this.inFd = inFd;
        this.outFd = outLease.fd;
        this.pump = pump;
        this.count = count;
        this.remaining = pump ? Long.MAX_VALUE : count;
        this.idleTimeoutNanos = idleTimeoutNanos;
        this.watchOutput = watchOutput;
        this.callback = callback;
        this.pipe = pipe;
        this.pipeCap = pipe == null ? 0 : pipe.capacity;
        this.fileOffset = fileOffset;
        this.address = address;
        this.onDone = onDone;
        this.inline = pipe == null ? null : splicer.inline;
        SpliceSettings settings = splicer.settings;
        boolean batch = source == SRC_SOCKET && !pump && settings.batching() && splicer.sys != null;
        this.batchMax = batch ? settings.batchMax() : 0;
        this.batchDelayNanos = settings.batchDelayNanos();
        this.batchTimerOp = batch
                ? new IoUringIoOps(OP_TIMEOUT, (byte) 0, (short) 0, -1, 0L, splicer.batchHoldTimespec, 1, 0,
                        userData(BATCH_TIMER), (short) 0, (short) 0, 0, 0L)
                : null;
        this.fillOp = source == SRC_SOCKET ? splice(inFd, -1L, pipe.writeFd, pipeCap, FILL) : null;
        this.drainOp = pipe == null ? null : splice(pipe.readFd, -1L, outFd, pipeCap, DRAIN);
        this.pollInOp = source == SRC_SOCKET ? pollAdd(inFd, POLLIN, POLL_IN) : null;
        this.pollOutOp = pollAdd(outFd, POLLOUT, POLL_OUT);
    }

    /** Socket to socket through a pipe: {@code count} bytes, or until EOF when {@code pump}. */
    static Transfer sockets(Splicer splicer, int slot, Channel in, ChannelLease inLease, Channel out,
                            ChannelLease outLease, boolean pump, long count, long idleTimeoutNanos,
                            boolean watchOutput, SpliceCallback callback, Pipe pipe) {
        return new Transfer(splicer, slot, SRC_SOCKET, in, inLease, inLease.fd, out, outLease, pump, count,
                idleTimeoutNanos, watchOutput, callback, pipe, -1L, 0L, null);
    }

    /** {@code length} bytes of the file {@code fd} from {@code offset}, through a pipe, to the socket. */
    static Transfer fromFile(Splicer splicer, int slot, int fd, long offset, long length, Channel out,
                             ChannelLease outLease, long idleTimeoutNanos, SpliceCallback callback, Pipe pipe,
                             Runnable onDone) {
        return new Transfer(splicer, slot, SRC_FILE, null, null, fd, out, outLease, false, length,
                idleTimeoutNanos, false, callback, pipe, offset, 0L, onDone);
    }

    /** {@code length} bytes at native {@code address} to the socket with SEND_ZC; no pipe. */
    static Transfer fromMemory(Splicer splicer, int slot, long address, long length, Channel out,
                               ChannelLease outLease, long idleTimeoutNanos, SpliceCallback callback,
                               Runnable onDone) {
        return new Transfer(splicer, slot, SRC_MEMORY, null, null, -1, out, outLease, false, length,
                idleTimeoutNanos, false, callback, null, -1L, address, onDone);
    }

    private long userData(int kind) {
        return UringOps.userData(slot, kind);
    }

    // IoUringIoOps(opcode, flags, ioPrio, fd, union1, union2, len, union3, userData, union4, personality, union5,
    // union6). For SPLICE: fd = fd_out, union1 = off_out, union2 = off_in (both -1: pipes and sockets have no
    // offset), union3 = splice_flags, union5 = splice_fd_in. Mirrors Netty's IoUringIoOps.newSplice.
    private IoUringIoOps splice(int fdIn, long offIn, int fdOut, int len, int kind) {
        return new IoUringIoOps(OP_SPLICE, (byte) 0, (short) 0, fdOut, -1L, offIn, len,
                SPLICE_F_MOVE | SPLICE_F_NONBLOCK, userData(kind), (short) 0, (short) 0, fdIn, 0L);
    }

    // SEND_ZC as Netty's IoUringIoOps.newSendZc: ioPrio = zero-copy flags, union2 = buffer address,
    // union3 = msg_flags. MSG_NOSIGNAL: a reset peer must not raise SIGPIPE.
    private IoUringIoOps sendZc(long addr, int len) {
        return new IoUringIoOps(OP_SEND_ZC, (byte) 0, SEND_ZC_REPORT_USAGE, outFd, 0L, addr, len, MSG_NOSIGNAL,
                userData(DRAIN), (short) 0, (short) 0, 0, 0L);
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
            // The first wait's batch comes from the rate since the start (see armPollIn).
            armNanos = lastProgressNanos;
            armRemaining = remaining;
            out.closeFuture().addListener(this);
            outLease.beginUse(false);
            if (in != null) {
                in.closeFuture().addListener(this);
                inLease.beginUse(true);
                acquireRdHup(inLease, DISARM_IN);
            }
            acquireRdHup(outLease, DISARM_OUT);
            if (state == STARTING && pendingLeases == 0) {
                state = RUNNING;
                advance();
            }
        } finally {
            inStart = false;
        }
        if (state == FAILING && outstanding == 0) {
            // Never run the callback from inside transfer()/pump(): defer it to a task.
            eventLoop().execute(this::maybeFinish);
        }
    }

    private EventLoop eventLoop() {
        return out.eventLoop();
    }

    /** Takes Netty's POLLRDHUP away from the channel for the duration (see {@link NettyUring}). */
    private void acquireRdHup(ChannelLease lease, int kind) {
        if (state != STARTING) {
            return;
        }
        switch (lease.rdhup) {
            case ChannelLease.RDHUP_NETTY -> {
                long id = NettyUring.pollRdhupId(lease.channel);
                if (id == 0) {
                    // Fired already. For the input the Splicer refused before getting here; for the output Netty
                    // may read its EOF and close it, which our close listener turns into a cancel.
                    return;
                }
                long sqe = submit(asyncCancel(id, kind));
                if (sqe == 0) {
                    fail(new SpliceCancelledException("event loop is shutting down"));
                    return;
                }
                lease.rdhup = ChannelLease.RDHUP_DISARMING;
                pendingLeases++;
            }
            case ChannelLease.RDHUP_DISARMING -> {
                lease.addWaiter(this);
                pendingLeases++;
            }
            default -> {
                // DISARMED: nothing to do.
            }
        }
    }

    /** The result of the ASYNC_CANCEL of Netty's POLLRDHUP, delivered to every transfer waiting on it. */
    private void disarmed(ChannelLease lease, int res) {
        // 0: cancelled, Netty will see -ECANCELED. -ENOENT/-EALREADY: the poll already fired and Netty reads.
        lease.rdhup = res == 0 ? ChannelLease.RDHUP_DISARMED : ChannelLease.RDHUP_NETTY;
        boolean ok = res == 0;
        ArrayList<Transfer> waiters = lease.waiters;
        lease.waiters = null;
        leaseSettled(lease, ok);
        if (waiters != null) {
            for (Transfer t : waiters) {
                t.leaseSettled(lease, ok);
            }
        }
    }

    private void leaseSettled(ChannelLease lease, boolean ok) {
        if (state == DONE) {
            return;
        }
        pendingLeases--;
        if (!ok && lease == inLease) {
            fail(new SpliceRefusedException(FallbackReason.PEER_CLOSING));
        }
        if (state == STARTING && pendingLeases == 0) {
            state = RUNNING;
            advance();
        }
        maybeFinish();
    }

    // ---------------------------------------------------------------- completions

    /** A CQE for this transfer's slot; runs on the loop. */
    @Override
    public void complete(int kind, int res, int flags) {
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
            onBatchTimer(res);
            return;
        }
        if (kind == POLL_HUP) {
            onHangupWatch(res);
            return;
        }
        outstanding--;
        if ((flags & CQE_F_MORE) != 0) {
            pendingNotifs++; // a SEND_ZC result announcing its notification
        }
        switch (kind) {
            case FILL -> onFill(res);
            case DRAIN -> {
                if (source == SRC_MEMORY) {
                    onSendZc(res);
                } else {
                    onDrain(res);
                }
            }
            case POLL_IN -> {
                pollInId = 0;
                onPoll(res, "poll input");
            }
            case POLL_OUT -> {
                pollOutId = 0;
                onPoll(res, "poll output");
            }
            case DISARM_IN -> disarmed(inLease, res);
            case DISARM_OUT -> disarmed(outLease, res);
            default -> {
                // CANCEL: 0, -ENOENT (target already completed) or -EALREADY (running; its CQE follows).
            }
        }
        advance();
        maybeFinish();
    }

    private void onFill(int res) {
        fillId = 0;
        if (res > 0) {
            remaining -= res;
            pipeBytes += res;
            fileOffset += res;
            lastProgressNanos = System.nanoTime();
        } else if (res == 0) {
            inputDone = true;
        } else if (res == -Syscalls.EAGAIN) {
            if (state == RUNNING) {
                if (pipeBytes > 0 || drainId != 0 || pollOutId != 0) {
                    // Maybe the pipe's slots are full: retry when the drain has made room.
                    fillWaitsForDrain = true;
                } else if (source == SRC_SOCKET) {
                    armPollIn();
                } else {
                    // A file never blocks and the pipe is empty: nothing to wait for.
                    fail(new SpliceIoException("splice file->pipe", Syscalls.EAGAIN));
                }
            }
        } else {
            onError(res, source == SRC_SOCKET ? "splice socket->pipe" : "splice file->pipe");
        }
    }

    private void onDrain(int res) {
        drainId = 0;
        fillWaitsForDrain = false;
        if (res > 0) {
            pipeBytes -= res;
            moved += res;
            if (source == SRC_SOCKET) {
                splicer.metrics.bytesSpliced(res);
            } else {
                splicer.metrics.sendBytes(SendMechanism.SPLICE, res);
            }
            lastProgressNanos = System.nanoTime();
        } else if (res == -Syscalls.EAGAIN) {
            if (state == RUNNING) {
                pollOutId = submitOrFail(pollOutOp);
                splicer.metrics.pollOut();
            }
        } else if (res == 0) {
            // Only possible if the pipe were empty, which pipeBytes > 0 rules out: treat as a broken output.
            if (state == RUNNING) {
                fail(new SpliceIoException("splice pipe->socket returned 0 with bytes in the pipe", Syscalls.EPIPE));
            }
        } else {
            onError(res, "splice pipe->socket");
        }
    }

    private void onSendZc(int res) {
        drainId = 0;
        if (res > 0) {
            remaining -= res;
            moved += res;
            splicer.metrics.sendBytes(SendMechanism.SEND_ZC, res);
            lastProgressNanos = System.nanoTime();
        } else if (res == -Syscalls.EAGAIN) {
            if (state == RUNNING) {
                pollOutId = submitOrFail(pollOutOp);
                splicer.metrics.pollOut();
            }
        } else if (res == 0) {
            if (state == RUNNING) {
                fail(new SpliceIoException("send_zc sent 0 bytes", Syscalls.EPIPE));
            }
        } else {
            onError(res, "send_zc");
        }
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
        if (state != RUNNING) {
            return; // ECANCELED after our own cancel, or anything once we are failing already
        }
        if (res == -Syscalls.ECANCELED) {
            fail(new SpliceCancelledException(what + " cancelled by the kernel or the event loop"));
        } else {
            fail(new SpliceIoException(what, -res));
        }
    }

    // ---------------------------------------------------------------- driving

    private void advance() {
        if (state != RUNNING) {
            return;
        }
        if (source == SRC_MEMORY) {
            if (drainId == 0 && pollOutId == 0 && remaining > 0) {
                if (!isOpen(out)) {
                    fail(new SpliceCancelledException("output channel closed"));
                    return;
                }
                drainId = submitOrFail(sendZc(address + moved, (int) Math.min(remaining, MAX_SEND)));
                return;
            }
            if (outstanding == 0 && remaining == 0) {
                finish(null); // every byte sent; notifications may still follow (see retire)
            }
            return;
        }
        if (inline != null) {
            advanceInline();
            return;
        }
        if (drainId == 0 && pollOutId == 0 && pipeBytes > 0) {
            if (!isOpen(out)) {
                fail(new SpliceCancelledException("output channel closed"));
                return;
            }
            drainId = submitOrFail(drainOp);
            if (state != RUNNING) {
                return;
            }
        }
        if (fillId == 0 && pollInId == 0 && !inputDone && !fillWaitsForDrain && remaining > 0
                && pipeBytes < pipeCap) {
            if (source == SRC_FILE) {
                // The offset moves every chunk, so this op is built per chunk (one per pipe-full).
                fillId = submitOrFail(splice(inFd, fileOffset, pipe.writeFd, (int) Math.min(remaining, pipeCap),
                        FILL));
            } else if (!isOpen(in)) {
                fail(new SpliceCancelledException("input channel closed"));
                return;
            } else {
                fillId = submitOrFail(remaining >= pipeCap ? fillOp : tailFill((int) remaining));
            }
            if (state != RUNNING) {
                return;
            }
        }
        checkEnd();
    }

    /** With nothing in flight and the pipe empty: the body is complete, or the input ended. */
    private void checkEnd() {
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

    /**
     * Inline mode: drain and fill with splice(2) on the loop until both would block, then wait on a POLL_ADD. Both
     * sockets and the pipe are non-blocking, so no call sleeps. Unlike the io_uring mode, {@code pipeBytes} is
     * always exact here, which resolves the ambiguous EAGAIN of a fill: with an empty pipe it means the input is
     * empty (POLLIN); with bytes in the pipe the drain ran just before and either emptied it (then the fill is
     * retried) or hit EAGAIN and armed POLLOUT, whose completion drains and fills again.
     */
    private void advanceInline() {
        if (inStart) {
            // The whole body may move right here: never finish (run the callback) inside transfer()/pump().
            queueResume();
            return;
        }
        long budget = INLINE_BUDGET;
        while (state == RUNNING) {
            boolean progress = false;
            if (pipeBytes > 0 && pollOutId == 0) {
                if (!isOpen(out)) {
                    fail(new SpliceCancelledException("output channel closed"));
                    return;
                }
                long r = inline.splice(pipe.readFd, outFd, pipeBytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (r > 0) {
                    pipeBytes -= r;
                    moved += r;
                    budget -= r;
                    progress = true;
                    if (source == SRC_SOCKET) {
                        splicer.metrics.bytesSpliced(r);
                    } else {
                        splicer.metrics.sendBytes(SendMechanism.SPLICE, r);
                    }
                } else if (r == -Syscalls.EAGAIN) {
                    pollOutId = submitOrFail(pollOutOp);
                    splicer.metrics.pollOut();
                } else if (r == 0) {
                    fail(new SpliceIoException("splice pipe->socket returned 0 with bytes in the pipe",
                            Syscalls.EPIPE));
                } else if (r != -Syscalls.EINTR) {
                    onError((int) r, "splice pipe->socket");
                }
                if (state != RUNNING) {
                    return;
                }
            }
            if (pollInId == 0 && !inputDone && remaining > 0 && pipeBytes < pipeCap) {
                long want = Math.min(remaining, pipeCap - pipeBytes);
                long r;
                if (source == SRC_FILE) {
                    r = inline.spliceFrom(inFd, fileOffset, pipe.writeFd, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                } else if (!isOpen(in)) {
                    fail(new SpliceCancelledException("input channel closed"));
                    return;
                } else {
                    r = inline.splice(inFd, pipe.writeFd, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                }
                if (r > 0) {
                    remaining -= r;
                    pipeBytes += r;
                    fileOffset += r;
                    progress = true;
                } else if (r == 0) {
                    inputDone = true;
                } else if (r == -Syscalls.EAGAIN) {
                    if (pipeBytes == 0) {
                        if (source == SRC_SOCKET) {
                            armPollIn();
                        } else {
                            fail(new SpliceIoException("splice file->pipe", Syscalls.EAGAIN));
                        }
                    }
                    // else the pipe's slots may be full: the drain above runs again or waits for POLLOUT.
                } else if (r != -Syscalls.EINTR) {
                    onError((int) r, source == SRC_SOCKET ? "splice socket->pipe" : "splice file->pipe");
                }
                if (state != RUNNING) {
                    return;
                }
            }
            if (!progress) {
                break;
            }
            lastProgressNanos = System.nanoTime();
            if (budget <= 0) {
                // Let the loop serve its other channels; carry on from a task.
                queueResume();
                return;
            }
        }
        checkEnd();
    }

    /**
     * The input is empty: wait for it with a POLL_ADD, and for a counted body wait for a batch rather than the first
     * segment. Waking up is the costliest part of a splice pass-through here (a sleep and a wake-up per arriving
     * segment: ~40% of the proxy's CPU at 64 MiB bodies), so SO_RCVLOWAT makes the kernel wake the loop only once
     * that many bytes are queued (tcp_data_ready and tcp_poll both honour it; FIN, errors and memory pressure still
     * wake at once). The batch is what the input delivered during the last {@code batchDelay} at its rate over the
     * previous wait, rounded down to a power of two, capped by {@code batchMax} and by the bytes still owed: a fast
     * upstream is read in big batches, a slow one is forwarded as it trickles in, and the last bytes of a body never
     * wait for bytes that will not come. A batched wait is bounded by an IORING_OP_TIMEOUT of
     * {@link #BATCH_HOLD_FACTOR} x {@code batchDelay} ({@link #onBatchTimer}), so a sender that slows or pauses is
     * not held back. The first wait takes its rate from the bytes moved since the transfer started (a body that
     * was already queued over-estimates it; the hold bound limits what that costs, once); when none moved yet it
     * batches nothing. The socket gets its default
     * back when the transfer ends ({@link #finish}).
     */
    private void armPollIn() {
        if (batchMax > 0) {
            long now = System.nanoTime();
            int lowat = 1;
            if (armNanos != 0) {
                long bytes = armRemaining - remaining;
                long elapsed = now - armNanos;
                if (bytes > 0 && elapsed > 0) {
                    double batch = (double) bytes * batchDelayNanos / elapsed;
                    if (batch >= 2) {
                        lowat = Integer.highestOneBit((int) Math.min(batch, batchMax));
                    }
                }
            }
            armNanos = now;
            armRemaining = remaining;
            if (lowat > 1) {
                if (lowat > inLease.lowatCap) {
                    // Re-read only when a larger batch is wanted: autotuning grows the buffer as the flow speeds up
                    // (and never shrinks it), so the cap kept from earlier transfers on this socket still holds.
                    int rcvbuf = splicer.sys.getsockopt(inFd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVBUF);
                    inLease.lowatCap = Math.max(1, rcvbuf >> 2);
                }
                lowat = Math.min(lowat, inLease.lowatCap);
            }
            setLowat((int) Math.min(lowat, remaining));
            if (rcvLowat > 1) {
                splicer.metrics.batchedPoll();
                if (batchTimerId == 0 && state == RUNNING) {
                    batchTimerId = splicer.registration().submit(batchTimerOp);
                    if (batchTimerId != 0) {
                        timerCqes++;
                    } else {
                        setLowat(1);
                    }
                }
            }
        }
        pollInId = submitOrFail(pollInOp);
        splicer.metrics.pollIn();
    }

    /**
     * The timer of a batched wait fired (-ETIME), was removed (-ECANCELED), or this is the removal's own CQE. When a
     * batched wait is still pending, the batch did not fill in time (the sender slowed or paused): lower SO_RCVLOWAT
     * to 1, which makes the kernel wake the poll at once if any byte is queued (tcp_set_rcvlowat checks), so bytes
     * are never held longer than the bound.
     */
    private void onBatchTimer(int res) {
        timerCqes--;
        if (res == -Syscalls.ETIME || res == -Syscalls.ECANCELED) {
            batchTimerId = 0;
        }
        if (res == -Syscalls.ETIME && state == RUNNING && pollInId != 0 && rcvLowat > 1) {
            setLowat(1);
            splicer.metrics.batchTimeout();
        }
        maybeRetire();
    }

    private void setLowat(int lowat) {
        if (lowat == rcvLowat) {
            return;
        }
        int r = splicer.sys.setsockopt(inFd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVLOWAT, Math.max(1, lowat));
        if (r < 0) {
            batchMax = 0; // wake per segment, as without batching
            if (LOGGED_LOWAT_FAILURE.compareAndSet(false, true)) {
                logger.info("SO_RCVLOWAT refused ({}): splices wake for every arriving segment",
                        Syscalls.errnoName(-r));
            }
            return;
        }
        rcvLowat = lowat;
    }

    private void queueResume() {
        if (!resumeQueued) {
            resumeQueued = true;
            eventLoop().execute(resume);
        }
    }

    private void resumeInline() {
        resumeQueued = false;
        advance();
        maybeFinish();
    }

    private IoUringIoOps tailFill(int len) {
        if (tailFillOp == null || tailFillLen != len) {
            tailFillOp = splice(inFd, -1L, pipe.writeFd, len, FILL);
            tailFillLen = len;
        }
        return tailFillOp;
    }

    private static boolean isOpen(Channel ch) {
        return ((UnixChannel) ch).fd().isOpen();
    }

    private long submit(IoUringIoOps op) {
        long id = splicer.registration().submit(op);
        if (id != 0) {
            outstanding++;
        }
        return id;
    }

    private long submitOrFail(IoUringIoOps op) {
        long id = submit(op);
        if (id == 0) {
            fail(new SpliceCancelledException("event loop is shutting down"));
        }
        return id;
    }

    private void shutdownOutput() {
        state = SHUTTING_OUTPUT;
        if (!out.isActive()) {
            finish(new SpliceCancelledException("output channel closed before its output was shut down"));
            return;
        }
        ((DuplexChannel) out).shutdownOutput().addListener((ChannelFutureListener) f -> {
            if (state == DONE) {
                return;
            }
            finish(f.isSuccess() ? null : new SpliceIoException("shutdownOutput", f.cause()));
        });
    }

    // ---------------------------------------------------------------- failure and cancel

    @Override
    public void fail(Throwable cause) {
        if (state != STARTING && state != RUNNING) {
            return;
        }
        failure = cause;
        state = FAILING;
        cancelInFlight(fillId);
        cancelInFlight(drainId);
        cancelInFlight(pollInId);
        cancelInFlight(pollOutId);
        maybeFinish();
    }

    private void cancelInFlight(long id) {
        if (id != 0) {
            // If the registration is gone the loop is shutting down and Netty drains every CQE anyway.
            submit(asyncCancel(id, CANCEL));
        }
    }

    private void maybeFinish() {
        if (state == FAILING && outstanding == 0 && !inStart) {
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
     * watched, arms the hang-up watch once nothing moved for {@link #HANGUP_PROBE_NANOS}. Why not at once: a POLL_ADD
     * and its cancel per transfer would cost every healthy transfer two submissions; a stalled one pays them, and
     * learns of its client leaving at most that much (plus a watchdog period) later.
     */
    @Override
    public void tick(long now) {
        if (state != RUNNING && state != STARTING) {
            return;
        }
        long idle = now - lastProgressNanos;
        if (idleTimeoutNanos > 0 && idle >= idleTimeoutNanos) {
            fail(new SpliceTimeoutException(idleTimeoutNanos, moved));
            return;
        }
        if (watchOutput && !hupArmed && state == RUNNING && idle >= HANGUP_PROBE_NANOS) {
            armHangupWatch();
        }
    }

    /**
     * One POLL_ADD(POLLRDHUP) on the output for the rest of the transfer (POLLHUP and POLLERR are always reported):
     * the peer sent FIN or reset. For a response body that is the client gone, or half-closed, which HTTP/1.1 proxies
     * treat alike (Sluice aborts on a client's FIN while waiting for a response head, and Netty does on a copied
     * body). Not counted in {@code outstanding}: the transfer may end with it pending; {@link #finish} cancels it and
     * the slot waits for its CQEs.
     */
    private void armHangupWatch() {
        hupArmed = true;
        long id = splicer.registration().submit(pollAdd(outFd, POLLRDHUP, POLL_HUP));
        if (id != 0) {
            hupId = id;
            hupCqes++;
            splicer.metrics.hangupWatch();
        }
    }

    /**
     * A CQE of the hang-up watch: the poll's own (a ready mask, or -ECANCELED after our cancel) or its cancel's (0,
     * -ENOENT, -EALREADY).
     */
    private void onHangupWatch(int res) {
        hupCqes--;
        boolean cancelResult = res == 0 || res == -Syscalls.ENOENT || res == -Syscalls.EALREADY;
        if (!cancelResult) {
            hupId = 0;
            if (res > 0 && state == RUNNING) {
                fail(new OutputClosedException(String.format(
                        "the output's peer closed the connection (poll mask 0x%x) after %d bytes, while no byte moved",
                        res, moved)));
            }
        }
        maybeRetire();
    }

    /** closeFuture of either channel. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (state == STARTING || state == RUNNING) {
            fail(new SpliceCancelledException(
                    (future.channel() == in ? "input" : "output") + " channel closed during the transfer"));
        }
    }

    private void finish(Throwable cause) {
        if (state == DONE) {
            return;
        }
        state = DONE;
        done = true;
        out.closeFuture().removeListener(this);
        boolean rearm = cause == null && !pump;
        if (rcvLowat != 1 && isOpen(in)) {
            // Netty waits for single bytes (the next response head) on this socket again.
            int r = splicer.sys.setsockopt(inFd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVLOWAT, 1);
            if (r < 0 && rearm) {
                logger.warn("could not restore SO_RCVLOWAT on {} ({}); closing it", in, Syscalls.errnoName(-r));
                in.close();
            }
            rcvLowat = 1;
        }
        if (in != null) {
            in.closeFuture().removeListener(this);
            releaseLease(inLease, true, rearm);
        }
        releaseLease(outLease, false, rearm);
        if (batchTimerId != 0) {
            // The slot stays taken until the timer's CQEs are in; the pipe does not need to wait for them.
            IoUringIoOps remove = new IoUringIoOps(OP_TIMEOUT_REMOVE, (byte) 0, (short) 0, -1, 0L, batchTimerId, 0, 0,
                    userData(BATCH_TIMER), (short) 0, (short) 0, 0, 0L);
            if (splicer.registration().submit(remove) != 0) {
                timerCqes++;
            } else {
                timerCqes = 0; // the registration is gone (loop shutting down): no CQE will come for this slot
            }
            batchTimerId = 0;
        }
        if (hupId != 0) {
            IoUringIoOps cancel = asyncCancel(hupId, POLL_HUP);
            if (splicer.registration().submit(cancel) != 0) {
                hupCqes++;
            } else {
                hupCqes = 0; // the registration is gone (loop shutting down): no CQE will come for this slot
            }
            hupId = 0;
        }
        if (timerCqes > 0 || hupCqes > 0) {
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
        if (state != DONE || pendingNotifs > 0 || timerCqes > 0 || hupCqes > 0 || retired) {
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
