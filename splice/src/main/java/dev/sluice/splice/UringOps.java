package dev.sluice.splice;

import io.netty.channel.uring.IoUringIoOps;

/**
 * The constants and SQE descriptions that {@link Transfer}, {@link TeeFill} and {@link SendfileSend} share, and the user_data they carry:
 * {@code slot << 4 | kind} in 16 bits (Netty keeps 16 bits of a handle's user_data), decoded by the splicer's handle.
 */
final class UringOps {
    static final byte OP_POLL_ADD = 6;
    static final byte OP_ASYNC_CANCEL = 14;

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

    static final byte OP_TIMEOUT = 11;
    static final byte OP_TIMEOUT_REMOVE = 12;
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

    static final int SPLICE_F_MOVE = 1;
    static final int SPLICE_F_NONBLOCK = 2;
    static final int POLLIN = 0x1;
    static final int POLLOUT = 0x4;
    static final int POLLRDHUP = 0x2000;

    private UringOps() {
    }

    static long userData(int slot, int kind) {
        return (short) ((slot << 4) | kind);
    }

    // IoUringIoOps(opcode, flags, ioPrio, fd, union1, union2, len, union3, userData, union4, personality, union5,
    // union6). POLL_ADD: union3 = poll32_events (one-shot). ASYNC_CANCEL: union2 = the target's user_data.

    /** A one-shot POLL_ADD of {@code mask} on {@code fd}. */
    static IoUringIoOps pollAdd(int fd, int mask, long userData) {
        return new IoUringIoOps(OP_POLL_ADD, (byte) 0, (short) 0, fd, 0L, 0L, 0, mask, userData,
                (short) 0, (short) 0, 0, 0L);
    }

    /** An ASYNC_CANCEL of the operation submitted with user_data {@code target}. */
    static IoUringIoOps asyncCancel(long target, long userData) {
        return new IoUringIoOps(OP_ASYNC_CANCEL, (byte) 0, (short) 0, -1, 0L, target, 0, 0, userData,
                (short) 0, (short) 0, 0, 0L);
    }

    // SPLICE: fd = fd_out, union1 = off_out, union2 = off_in (-1: pipes and sockets have no offset), union3 =
    // splice_flags, union5 = splice_fd_in. Mirrors Netty's package-private IoUringIoOps.newSplice.

    /** A non-blocking splice of up to {@code len} bytes from {@code fdIn} (at {@code offIn}, or -1) to {@code fdOut}. */
    static IoUringIoOps splice(int fdIn, long offIn, int fdOut, int len, long userData) {
        return new IoUringIoOps(OP_SPLICE, (byte) 0, (short) 0, fdOut, -1L, offIn, len,
                SPLICE_F_MOVE | SPLICE_F_NONBLOCK, userData, (short) 0, (short) 0, fdIn, 0L);
    }

    // SEND_ZC as Netty's IoUringIoOps.newSendZc: ioPrio = zero-copy flags, union2 = buffer address, union3 =
    // msg_flags. MSG_NOSIGNAL: a reset peer must not raise SIGPIPE.

    /** A SEND_ZC of {@code len} bytes at native {@code addr} on {@code fd}; its notification reports copying. */
    static IoUringIoOps sendZc(int fd, long addr, int len, long userData) {
        return new IoUringIoOps(OP_SEND_ZC, (byte) 0, SEND_ZC_REPORT_USAGE, fd, 0L, addr, len, MSG_NOSIGNAL,
                userData, (short) 0, (short) 0, 0, 0L);
    }
}
