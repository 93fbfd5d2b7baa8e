package dev.sluice.splice;

/**
 * A stalled transfer's watch on its output's peer: one POLL_ADD(POLLRDHUP) on the output for the rest of the
 * transfer (POLLHUP and POLLERR are always reported), armed once nothing moved for
 * {@link Transfer#HANGUP_PROBE_NANOS}. It fires when the peer sent FIN or reset: for a response body that is the
 * client gone, or half-closed, which HTTP/1.1 proxies treat alike (Sluice aborts on a client's FIN while waiting for
 * a response head, and Netty does on a copied body). Why not armed at once: a POLL_ADD and its cancel per transfer
 * would cost every healthy transfer two submissions; a stalled one pays them.
 *
 * <p>Not counted in the transfer's {@code outstanding}: the transfer may end with the watch pending; then
 * {@link #cancel} removes it and the slot stays taken until {@link #cqesOwed} is 0. Loop-confined.
 */
final class HangupWatch {
    private final Splicer splicer;
    private final int fd;
    private final long userData;
    /** The pending poll (0: none), whether one was ever armed, and CQEs the poll and its cancel still owe the slot. */
    private long id;
    private boolean armed;
    private int cqes;

    HangupWatch(Splicer splicer, int fd, long userData) {
        this.splicer = splicer;
        this.fd = fd;
        this.userData = userData;
    }

    /** Whether the watch was armed already (it is armed at most once per transfer). */
    boolean armed() {
        return armed;
    }

    void arm() {
        assert !armed;
        armed = true;
        long sqe = splicer.registration().submit(UringOps.pollAdd(fd, UringOps.POLLRDHUP, userData));
        if (sqe != 0) {
            id = sqe;
            cqes++;
            splicer.metrics.hangupWatch();
        }
    }

    /**
     * A CQE of the watch: the poll's own (a ready mask, or -ECANCELED after our cancel) or its cancel's (0, -ENOENT,
     * -EALREADY). Returns the ready mask when the peer hung up, else 0.
     */
    int onCompletion(int res) {
        cqes--;
        assert cqes >= 0 : "a hang-up CQE never asked for";
        boolean cancelResult = res == 0 || res == -Syscalls.ENOENT || res == -Syscalls.EALREADY;
        if (cancelResult) {
            return 0;
        }
        id = 0;
        return Math.max(res, 0);
    }

    /** The transfer ended: cancel a pending poll. */
    void cancel() {
        if (id != 0) {
            if (splicer.registration().submit(UringOps.asyncCancel(id, userData)) != 0) {
                cqes++;
            } else {
                cqes = 0; // the registration is gone (loop shutting down): no CQE will come for this slot
            }
            id = 0;
        }
    }

    /** CQEs the watch still owes the slot. */
    int cqesOwed() {
        return cqes;
    }
}
