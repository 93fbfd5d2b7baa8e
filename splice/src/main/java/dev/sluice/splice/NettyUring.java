package dev.sluice.splice;

import io.netty.channel.Channel;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;

/**
 * The two pieces of Netty's io_uring channel state a splice has to touch, reached through private lookups because
 * Netty exposes neither. Probed once; if this Netty build lacks them {@link Splicer#isAvailable()} is false with
 * the cause, and callers copy.
 *
 * <p>Why: Netty arms a one-shot POLLRDHUP on every active io_uring stream channel, and when it fires (the peer sent
 * FIN) Netty reads the socket until EOF regardless of AUTO_READ. While a splice owns the input socket such a read
 * would steal body bytes from under it (an origin that closes right after the body, or an L4 client's half-close),
 * and on the output socket it can make Netty close the fd under an in-flight splice. So a transfer cancels that
 * poll by its user_data ({@code pollRdhupId}) before its first splice, and after a successful transfer re-arms it
 * with Netty's own {@code schedulePollRdHup()}, leaving the channel as Netty expects it. The checks against
 * {@code ioState} keep Netty's assertion that at most one RDHUP poll is armed.
 *
 * <p>Everything Sluice takes from Netty beyond its public API is in this class, resolved once when the class loads;
 * {@link Splicer}'s probe reports {@link #UNAVAILABILITY_CAUSE} (Sluice logs it at start) and the SEND_ZC probe logs
 * why it failed, once. Nothing here copies a Netty constant: {@code POLL_RDHUP_SCHEDULED} is read from Netty's own
 * class, so a renumbering cannot go unnoticed.
 *
 * <h2>What public Netty API would replace this</h2>
 * Checked against Netty 4.2.18's public API: {@code AbstractIoUringChannel} is package-private, its RDHUP state has
 * no accessor, {@code IoUringChannelOption} has no option for it, and {@code IoUring} exposes
 * {@code isSpliceSupported()} (used by the probe) but not {@code isSendZcSupported()}; the {@code IoUringIoOps}
 * constructor is public (used for every SQE here) but its factories ({@code newSplice}, {@code newSendZc},
 * {@code newPollAdd}, {@code newAsyncCancel}) are package-private, so {@link UringOps} builds the same SQEs by
 * field. What would replace each piece:
 * <ul>
 * <li>the RDHUP trio ({@code pollRdhupId}, {@code ioState}, {@code schedulePollRdHup()}): a public way for the
 *     channel's owner to suspend and resume Netty's POLLRDHUP, e.g. a channel option {@code POLL_RDHUP} (false:
 *     cancel the armed poll and report when its CQE is in; true: re-arm it unless armed), or a
 *     {@code suspendRdHup()} returning a future plus {@code resumeRdHup()} on the io_uring stream channel. With that,
 *     {@link ChannelLease}'s RDHUP states and the DISARM completions go away.</li>
 * <li>{@code IoUring.isSendZcSupported()}: made public like {@code isSpliceSupported()}.</li>
 * <li>{@code UringOps}' hand-built SQEs: the {@code IoUringIoOps} factories made public.</li>
 * </ul>
 */
final class NettyUring {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(NettyUring.class);
    /** AbstractIoUringChannel.POLL_RDHUP_SCHEDULED, read from Netty's class (0 when unavailable). */
    private static final int POLL_RDHUP_SCHEDULED;

    private static final VarHandle POLL_RDHUP_ID;
    private static final VarHandle IO_STATE;
    private static final MethodHandle SCHEDULE_POLL_RDHUP;
    static final Throwable UNAVAILABILITY_CAUSE;
    /** io.netty.channel.uring.IoUring.isSendZcSupported() (package-private in Netty); false if unreadable. */
    static final boolean SEND_ZC_SUPPORTED = probeSendZc();

    static {
        VarHandle id = null;
        VarHandle state = null;
        MethodHandle rearm = null;
        int scheduledBit = 0;
        Throwable cause = null;
        try {
            Class<?> c = Class.forName("io.netty.channel.uring.AbstractIoUringChannel", false,
                    NettyUring.class.getClassLoader());
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(c, MethodHandles.lookup());
            id = lookup.findVarHandle(c, "pollRdhupId", long.class);
            state = lookup.findVarHandle(c, "ioState", byte.class);
            rearm = lookup.findVirtual(c, "schedulePollRdHup", MethodType.methodType(void.class))
                    .asType(MethodType.methodType(void.class, Channel.class));
            scheduledBit = (int) lookup.findStaticVarHandle(c, "POLL_RDHUP_SCHEDULED", int.class).get();
        } catch (Throwable t) {
            cause = new UnsupportedOperationException(
                    "Netty io_uring channel internals not found (pollRdhupId/ioState/schedulePollRdHup/POLL_RDHUP_SCHEDULED)", t);
        }
        POLL_RDHUP_ID = id;
        IO_STATE = state;
        SCHEDULE_POLL_RDHUP = rearm;
        POLL_RDHUP_SCHEDULED = scheduledBit;
        UNAVAILABILITY_CAUSE = cause;
    }

    private NettyUring() {
    }

    private static boolean probeSendZc() {
        try {
            Class<?> c = Class.forName("io.netty.channel.uring.IoUring", true, NettyUring.class.getClassLoader());
            MethodHandle h = MethodHandles.privateLookupIn(c, MethodHandles.lookup())
                    .findStatic(c, "isSendZcSupported", MethodType.methodType(boolean.class));
            return (boolean) h.invokeExact();
        } catch (Throwable t) {
            logger.info("cannot tell whether io_uring supports SEND_ZC (Netty's IoUring.isSendZcSupported: {}); "
                    + "sends asked to use SEND_ZC fall back (counted as no_zero_copy_source)", t.toString());
            return false;
        }
    }

    /** The user_data of Netty's armed POLLRDHUP on {@code ch}, or 0 if none is armed (fired, cancelled, never). */
    static long pollRdhupId(Channel ch) {
        return (long) POLL_RDHUP_ID.get(ch);
    }

    static boolean rdhupScheduled(Channel ch) {
        return ((byte) IO_STATE.get(ch) & POLL_RDHUP_SCHEDULED) != 0;
    }

    /**
     * Re-arms Netty's POLLRDHUP if none is armed or pending; must run on the channel's loop. Returns whether it did.
     */
    static boolean rearmRdHup(Channel ch) {
        if (!ch.isActive() || rdhupScheduled(ch) || pollRdhupId(ch) != 0) {
            return false;
        }
        try {
            SCHEDULE_POLL_RDHUP.invokeExact(ch);
            return true;
        } catch (Throwable t) {
            return false;
        }
    }
}
