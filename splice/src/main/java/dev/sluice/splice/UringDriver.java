package dev.sluice.splice;

import io.netty.channel.uring.IoUringIoOps;

import static dev.sluice.splice.UringOps.DRAIN;
import static dev.sluice.splice.UringOps.FILL;

/**
 * The io_uring driver of a transfer: every fill and drain is an IORING_OP_SPLICE (uring mode), or, for a memory
 * source in either mode, every drain is an IORING_OP_SEND_ZC and there is no fill.
 *
 * <p>Two splices, each driven from the other's completions (no linked SQE chains: a short splice would fail the rest
 * of a chain): FILL {@code in -> pipe} and DRAIN {@code pipe -> out}, at most one of each in flight, so a fill and a
 * drain overlap on two io-wq workers. FILL never asks for more than the bytes still owed ({@code remaining}), so the
 * input is never read past the body. A fill whose EAGAIN may mean full pipe slots waits for the next drain's
 * completion ({@link #fillAfterDrain}). A drain asks for the whole pipe capacity: a splice from a pipe takes what the
 * pipe holds, and the pipe only ever holds this transfer's bytes. So the SQE descriptions of a full fill and the drain
 * are built once per transfer; a file's fill, whose offset moves, once per pipe-full.
 */
final class UringDriver implements TransferDriver {
    /** Largest single SEND_ZC; the rest follows from the completion. */
    private static final int MAX_SEND = 1 << 30;

    private final Transfer t;
    private final IoUringIoOps fillOp;
    private final IoUringIoOps drainOp;
    private IoUringIoOps tailFillOp;
    private int tailFillLen;
    private long fillId;
    private long drainId;
    private boolean fillWaitsForDrain;

    UringDriver(Transfer t) {
        this.t = t;
        this.fillOp = t.source == Transfer.SRC_SOCKET ? splice(t.inFd, -1L, t.pipe.writeFd, t.pipeCap, FILL) : null;
        this.drainOp = t.pipe == null ? null : splice(t.pipe.readFd, -1L, t.outFd, t.pipeCap, DRAIN);
    }

    private IoUringIoOps splice(int fdIn, long offIn, int fdOut, int len, int kind) {
        return UringOps.splice(fdIn, offIn, fdOut, len, t.userData(kind));
    }

    @Override
    public void advance() {
        if (t.pipe == null) {
            if (drainId == 0 && t.pollOutId == 0 && t.remaining > 0) {
                if (!Transfer.isOpen(t.out)) {
                    t.fail(new SpliceCancelledException("output channel closed"));
                    return;
                }
                drainId = t.submitOrFail(UringOps.sendZc(t.outFd, t.address + t.moved,
                        (int) Math.min(t.remaining, MAX_SEND), t.userData(DRAIN)));
                return;
            }
            // No pipe, so pipeBytes stays 0: this finishes once every byte was sent (notifications may still follow).
            t.checkEnd();
            return;
        }
        if (drainId == 0 && t.pollOutId == 0 && t.pipeBytes > 0) {
            if (!Transfer.isOpen(t.out)) {
                t.fail(new SpliceCancelledException("output channel closed"));
                return;
            }
            drainId = t.submitOrFail(drainOp);
            if (!t.running()) {
                return;
            }
        }
        if (fillId == 0 && t.pollInId == 0 && !t.inputDone && !fillWaitsForDrain && t.remaining > 0
                && t.pipeBytes < t.pipeCap) {
            if (t.source == Transfer.SRC_FILE) {
                // The offset moves every chunk, so this op is built per chunk (one per pipe-full).
                fillId = t.submitOrFail(splice(t.inFd, t.fileOffset, t.pipe.writeFd,
                        (int) Math.min(t.remaining, t.pipeCap), FILL));
            } else if (!Transfer.isOpen(t.in)) {
                t.fail(new SpliceCancelledException("input channel closed"));
                return;
            } else {
                fillId = t.submitOrFail(t.remaining >= t.pipeCap ? fillOp : tailFill((int) t.remaining));
            }
            if (!t.running()) {
                return;
            }
        }
        t.checkEnd();
    }

    private IoUringIoOps tailFill(int len) {
        if (tailFillOp == null || tailFillLen != len) {
            tailFillOp = splice(t.inFd, -1L, t.pipe.writeFd, len, FILL);
            tailFillLen = len;
        }
        return tailFillOp;
    }

    @Override
    public void onFill(int res) {
        fillId = 0;
        t.filled(res);
        if (res > 0) {
            t.progressed();
        }
    }

    @Override
    public void onDrain(int res) {
        drainId = 0;
        fillWaitsForDrain = false;
        if (t.drained(res) > 0) {
            t.progressed();
        }
    }

    @Override
    public boolean drainInFlight() {
        return drainId != 0;
    }

    @Override
    public void fillAfterDrain() {
        fillWaitsForDrain = true;
    }

    @Override
    public void cancelInFlight() {
        t.cancelInFlight(fillId);
        t.cancelInFlight(drainId);
    }
}
