package dev.sluice.splice;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

import java.util.ArrayList;

/**
 * What the splice module remembers about one channel across transfers, kept as a channel attribute (one object per
 * connection, not per transfer), and the hand-over of Netty's POLLRDHUP among the transfers using the channel: the
 * first takes it away with an ASYNC_CANCEL, the others wait for that result. Loop-confined like the channel.
 */
final class ChannelLease {
    private static final AttributeKey<ChannelLease> KEY = AttributeKey.valueOf(ChannelLease.class, "lease");

    /** Netty owns its POLLRDHUP (armed, or already fired). */
    static final int RDHUP_NETTY = 0;
    /** A transfer submitted ASYNC_CANCEL for Netty's POLLRDHUP and waits for the result. */
    static final int RDHUP_DISARMING = 1;
    /** Netty's POLLRDHUP is cancelled: nothing but our splices touches the socket. */
    static final int RDHUP_DISARMED = 2;

    final Channel channel;
    final int fd;
    /** Transfers currently using the channel (at most one reading and one writing). */
    int users;
    boolean reading;
    boolean writing;
    int rdhup = RDHUP_NETTY;
    /** O_NONBLOCK set by us (see {@link #makeNonBlocking}); it stays set after the transfers. */
    private boolean nonBlocking;
    /** Transfers waiting for the disarm result another transfer submitted. */
    private ArrayList<Transfer> waiters;
    /**
     * Give Netty its POLLRDHUP back after a transfer (false: the owner always keeps a read armed when it needs to see
     * the peer leave, so re-arming would only cost an ASYNC_CANCEL before the next transfer).
     */
    boolean rearmRdHup = true;
    /** A quarter of SO_RCVBUF when last read: the largest SO_RCVLOWAT that leaves the window alone (0: not read). */
    int lowatCap;

    private ChannelLease(Channel channel, int fd) {
        this.channel = channel;
        this.fd = fd;
    }

    static ChannelLease of(Channel ch, int fd) {
        ChannelLease lease = ch.attr(KEY).get();
        if (lease == null) {
            lease = new ChannelLease(ch, fd);
            ch.attr(KEY).set(lease);
        }
        return lease;
    }

    /**
     * Sets O_NONBLOCK on the socket, once per channel (a blocking socket would park an io-wq worker inside splice);
     * false when that failed.
     */
    boolean makeNonBlocking() {
        if (!nonBlocking) {
            if (Syscalls.setNonBlocking(fd) < 0) {
                return false;
            }
            nonBlocking = true;
        }
        return true;
    }

    /** A transfer or send starts using the channel: as input ({@code reading}) or as output. */
    void beginUse(boolean reading) {
        users++;
        if (reading) {
            this.reading = true;
        } else {
            writing = true;
        }
    }

    /**
     * A transfer or send stopped using the channel. With {@code rearm} (it succeeded, and was not a pump), the last
     * user gives Netty its POLLRDHUP back if a transfer took it away, unless the owner said it keeps a read armed
     * ({@link #rearmRdHup}).
     */
    void endUse(boolean reading, boolean rearm) {
        users--;
        if (reading) {
            this.reading = false;
        } else {
            writing = false;
        }
        if (rearm && rearmRdHup && users == 0 && rdhup == RDHUP_DISARMED && NettyUring.rearmRdHup(channel)) {
            rdhup = RDHUP_NETTY;
        }
    }

    /**
     * Takes Netty's POLLRDHUP away from the channel for transfer {@code t} (see {@link NettyUring}): submits the
     * ASYNC_CANCEL of Netty's poll as {@code t}'s operation {@code kind}, or joins the wait for the one another
     * transfer submitted. Returns true when {@code t} waits for the result ({@link Transfer#leaseSettled} follows from
     * {@link #rdHupCancelled}); false when there is nothing to wait for (already taken, or fired: for an input the
     * Splicer refused before getting here; for an output Netty may read its EOF and close it, which the transfer's
     * close listener turns into a cancel) or the submission failed (then {@code t} is failing).
     */
    boolean takeRdHup(Transfer t, int kind) {
        switch (rdhup) {
            case RDHUP_NETTY -> {
                long id = NettyUring.pollRdhupId(channel);
                if (id == 0 || t.submitOrFail(UringOps.asyncCancel(id, UringOps.userData(t.slot, kind))) == 0) {
                    return false;
                }
                rdhup = RDHUP_DISARMING;
                return true;
            }
            case RDHUP_DISARMING -> {
                if (waiters == null) {
                    waiters = new ArrayList<>(2);
                }
                waiters.add(t);
                return true;
            }
            default -> {
                return false; // DISARMED: nothing to do.
            }
        }
    }

    /**
     * The result of the ASYNC_CANCEL of Netty's POLLRDHUP that {@code submitter} submitted ({@link #takeRdHup}),
     * delivered to it and to every transfer waiting for it. A tee fill submits its own and hears of it itself
     * ({@code submitter} null); transfers that joined the wait meanwhile are settled all the same.
     */
    void rdHupCancelled(Transfer submitter, int res) {
        // 0: cancelled, Netty will see -ECANCELED. -ENOENT/-EALREADY: the poll already fired and Netty reads.
        boolean ok = res == 0;
        rdhup = ok ? RDHUP_DISARMED : RDHUP_NETTY;
        ArrayList<Transfer> settled = waiters;
        waiters = null;
        if (submitter != null) {
            submitter.leaseSettled(this, ok);
        }
        if (settled != null) {
            for (Transfer t : settled) {
                t.leaseSettled(this, ok);
            }
        }
    }

    void removeWaiter(Transfer t) {
        if (waiters != null) {
            waiters.remove(t);
        }
    }
}
