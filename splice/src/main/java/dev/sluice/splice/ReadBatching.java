package dev.sluice.splice;

import io.netty.channel.uring.IoUringIoOps;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Read batching for one counted socket-to-socket {@link Transfer}: when its input runs dry, wait for a batch rather
 * than the first segment. Waking up is the costliest part of a splice pass-through (a sleep and a wake-up per
 * arriving segment), so SO_RCVLOWAT makes the kernel wake the loop only once that many bytes are queued
 * (tcp_data_ready and tcp_poll both honour it; FIN, errors and memory pressure still wake at once).
 *
 * <p>The batch is what the input delivered during the last {@code batchDelay} at its rate over the previous wait,
 * rounded down to a power of two, capped by {@code batchMax}, by a quarter of the socket's receive buffer and by the
 * bytes still owed: a fast upstream is read in big batches, a slow one is forwarded as it trickles in, and the last
 * bytes of a body never wait for bytes that will not come. A batched wait is bounded by an IORING_OP_TIMEOUT of
 * {@link #HOLD_FACTOR} x {@code batchDelay} ({@link #onTimer}), so a sender that slows or pauses is not held back.
 * The first wait takes its rate from the bytes moved since the transfer started (a body that was already queued
 * over-estimates it; the hold bound limits what that costs, once); when none moved yet it batches nothing. The socket
 * gets its default back when the transfer ends ({@link #restore}).
 *
 * <p>Loop-confined, one per transfer that batches; the timer's CQEs reach it through its transfer's slot.
 */
final class ReadBatching {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(ReadBatching.class);
    private static final AtomicBoolean LOGGED_LOWAT_FAILURE = new AtomicBoolean();
    /** A batched wait lasts at most this many batch delays; then any queued byte wakes the loop. */
    static final int HOLD_FACTOR = 2;

    private final Splicer splicer;
    private final int fd;
    private final ChannelLease lease;
    private final long delayNanos;
    private final IoUringIoOps timerOp;
    private final long timerUserData;
    /** Largest SO_RCVLOWAT; 0 once the kernel refused one (then every segment wakes, as without batching). */
    private int max;
    /** SO_RCVLOWAT now set on the socket (1 is the kernel's default, which Netty expects back). */
    private int rcvLowat = 1;
    /** When the previous input poll was armed (at first: when the transfer started) and the bytes then still owed. */
    private long armNanos;
    private long armRemaining;
    /** The pending IORING_OP_TIMEOUT bounding a batched wait (0: none), and CQEs still owed to the slot by it. */
    private long timerId;
    private int timerCqes;

    ReadBatching(Splicer splicer, ChannelLease lease, long timerUserData) {
        this.splicer = splicer;
        this.fd = lease.fd;
        this.lease = lease;
        this.max = splicer.settings.batchMax();
        this.delayNanos = splicer.settings.batchDelayNanos();
        this.timerUserData = timerUserData;
        this.timerOp = new IoUringIoOps(UringOps.OP_TIMEOUT, (byte) 0, (short) 0, -1, 0L, splicer.batchHoldTimespec, 1,
                0, timerUserData, (short) 0, (short) 0, 0, 0L);
    }

    /** The transfer started with {@code remaining} bytes owed: the first wait's rate is taken from here. */
    void started(long now, long remaining) {
        armNanos = now;
        armRemaining = remaining;
    }

    /**
     * The input is empty and a POLLIN is about to be armed for it: set SO_RCVLOWAT for this wait and, for a batched
     * wait, arm the timer bounding it ({@code running}: the transfer may still submit).
     */
    void beforePoll(long remaining, boolean running) {
        if (max <= 0) {
            return;
        }
        long now = System.nanoTime();
        int lowat = 1;
        if (armNanos != 0) {
            long bytes = armRemaining - remaining;
            long elapsed = now - armNanos;
            if (bytes > 0 && elapsed > 0) {
                double batch = (double) bytes * delayNanos / elapsed;
                if (batch >= 2) {
                    lowat = Integer.highestOneBit((int) Math.min(batch, max));
                }
            }
        }
        armNanos = now;
        armRemaining = remaining;
        if (lowat > 1) {
            if (lowat > lease.lowatCap) {
                // Re-read only when a larger batch is wanted: autotuning grows the buffer as the flow speeds up
                // (and never shrinks it), so the cap kept from earlier transfers on this socket still holds.
                int rcvbuf = splicer.sys.getsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVBUF);
                lease.lowatCap = Math.max(1, rcvbuf >> 2);
            }
            lowat = Math.min(lowat, lease.lowatCap);
        }
        setLowat((int) Math.min(lowat, remaining));
        if (rcvLowat > 1) {
            splicer.metrics.batchedPoll();
            if (timerId == 0 && running) {
                timerId = splicer.registration().submit(timerOp);
                if (timerId != 0) {
                    timerCqes++;
                } else {
                    setLowat(1);
                }
            }
        }
    }

    /**
     * A CQE of the timer: it fired (-ETIME), was removed (-ECANCELED), or this is the removal's own CQE. When a
     * batched wait is still pending ({@code pollPending}), the batch did not fill in time (the sender slowed or
     * paused): lower SO_RCVLOWAT to 1, which makes the kernel wake the poll at once if any byte is queued
     * (tcp_set_rcvlowat checks), so bytes are never held longer than the bound.
     */
    void onTimer(int res, boolean pollPending) {
        timerCqes--;
        assert timerCqes >= 0 : "a timer CQE never asked for";
        if (res == -Syscalls.ETIME || res == -Syscalls.ECANCELED) {
            timerId = 0;
        }
        if (res == -Syscalls.ETIME && pollPending && rcvLowat > 1) {
            setLowat(1);
            splicer.metrics.batchTimeout();
        }
    }

    private void setLowat(int lowat) {
        if (lowat == rcvLowat) {
            return;
        }
        int r = splicer.sys.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVLOWAT, Math.max(1, lowat));
        if (r < 0) {
            max = 0; // wake per segment, as without batching
            if (LOGGED_LOWAT_FAILURE.compareAndSet(false, true)) {
                logger.info("SO_RCVLOWAT refused ({}): splices wake for every arriving segment",
                        Syscalls.errnoName(-r));
            }
            return;
        }
        rcvLowat = lowat;
    }

    /**
     * The transfer ended: give the socket its default SO_RCVLOWAT back (Netty waits for single bytes, the next
     * response head, on it again) if it is still open, and remove a pending timer. Returns 0, or -errno when the
     * default could not be restored.
     */
    int restore(boolean open) {
        int result = 0;
        if (rcvLowat != 1 && open) {
            result = splicer.sys.setsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVLOWAT, 1);
            rcvLowat = 1;
        }
        if (timerId != 0) {
            // The slot stays taken until the timer's CQEs are in; the pipe does not need to wait for them.
            IoUringIoOps remove = new IoUringIoOps(UringOps.OP_TIMEOUT_REMOVE, (byte) 0, (short) 0, -1, 0L, timerId, 0,
                    0, timerUserData, (short) 0, (short) 0, 0, 0L);
            if (splicer.registration().submit(remove) != 0) {
                timerCqes++;
            } else {
                timerCqes = 0; // the registration is gone (loop shutting down): no CQE will come for this slot
            }
            timerId = 0;
        }
        return result;
    }

    /** CQEs the timer still owes the slot: the slot stays taken until they are in. */
    int cqesOwed() {
        return timerCqes;
    }
}
