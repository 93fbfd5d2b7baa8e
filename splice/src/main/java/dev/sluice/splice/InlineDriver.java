package dev.sluice.splice;

import static dev.sluice.splice.UringOps.INLINE_BUDGET;
import static dev.sluice.splice.UringOps.SPLICE_F_MOVE;
import static dev.sluice.splice.UringOps.SPLICE_F_NONBLOCK;

/**
 * Inline mode's driver of a transfer through a pipe: drain and fill with splice(2) on the loop until both would block,
 * then the transfer waits on a POLL_ADD. Both sockets and the pipe are non-blocking, so no call sleeps. Unlike the
 * io_uring mode, the transfer's {@code pipeBytes} is always exact here, which resolves the ambiguous EAGAIN of a fill:
 * with an empty pipe it means the input is empty (POLLIN); with bytes in the pipe the drain ran just before and either
 * emptied it (then the fill is retried) or hit EAGAIN and armed POLLOUT, whose completion drains and fills again.
 *
 * <p>At most {@link UringOps#INLINE_BUDGET} bytes move per loop turn; then the driver continues as a task of its own
 * (it is the task: no object per resume), so one fast transfer cannot starve the loop's other channels.
 */
final class InlineDriver implements TransferDriver, Runnable {
    private final Transfer t;
    /** splice(2) on the loop thread. */
    private final Syscalls.Splice sys;
    private boolean resumeQueued;

    InlineDriver(Transfer t, Syscalls.Splice sys) {
        assert t.pipe != null : "inline splices go through a pipe";
        this.t = t;
        this.sys = sys;
    }

    @Override
    public void advance() {
        if (t.inStart) {
            // The whole body may move right here: never finish (run the callback) inside transfer()/pump().
            queueResume();
            return;
        }
        long budget = INLINE_BUDGET;
        while (t.running()) {
            boolean progress = false;
            if (t.pipeBytes > 0 && t.pollOutId == 0) {
                if (!Transfer.isOpen(t.out)) {
                    t.fail(new SpliceCancelledException("output channel closed"));
                    return;
                }
                long r = t.drained(sys.splice(t.pipe.readFd, t.outFd, t.pipeBytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
                budget -= r;
                progress |= r > 0;
                if (!t.running()) {
                    return;
                }
            }
            if (t.pollInId == 0 && !t.inputDone && t.remaining > 0 && t.pipeBytes < t.pipeCap) {
                long want = Math.min(t.remaining, t.pipeCap - t.pipeBytes);
                long r;
                if (t.source == Transfer.SRC_FILE) {
                    r = sys.spliceFrom(t.inFd, t.fileOffset, t.pipe.writeFd, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                } else if (!Transfer.isOpen(t.in)) {
                    t.fail(new SpliceCancelledException("input channel closed"));
                    return;
                } else {
                    r = sys.splice(t.inFd, t.pipe.writeFd, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                }
                t.filled(r);
                progress |= r > 0;
                if (!t.running()) {
                    return;
                }
            }
            if (!progress) {
                break;
            }
            t.progressed();
            if (budget <= 0) {
                // Let the loop serve its other channels; carry on from a task.
                queueResume();
                return;
            }
        }
        t.checkEnd();
    }

    private void queueResume() {
        if (!resumeQueued) {
            resumeQueued = true;
            t.out.eventLoop().execute(this);
        }
    }

    /** The queued resume: carry on where the budget (or the start) stopped. */
    @Override
    public void run() {
        resumeQueued = false;
        t.advance();
        t.maybeFinish();
    }
}
