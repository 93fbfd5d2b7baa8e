package dev.sluice.splice;

import io.netty.channel.uring.IoUringIoOps;

/**
 * The SQE descriptions that {@link Transfer} and {@link SendfileSend} both submit, and the user_data they carry:
 * {@code slot << 4 | kind} in 16 bits (Netty keeps 16 bits of a handle's user_data), decoded by the splicer's handle.
 */
final class UringOps {
    static final byte OP_POLL_ADD = 6;
    static final byte OP_ASYNC_CANCEL = 14;

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
}
