package dev.sluice.splice;

/**
 * What holds one of a {@link Splicer}'s io_uring slots: a {@link Transfer} (splices, SEND_ZC) or a
 * {@link SendfileSend}. The loop-wide handle routes each CQE to its holder by the slot in the user_data
 * ({@link UringOps#userData}), and {@link Splicer#close()} fails every holder. Loop-confined.
 */
interface SlotHolder {
    /** A CQE for this holder's slot: {@code kind} is the low 4 bits of its user_data. */
    void complete(int kind, int res, int flags);

    /**
     * Ends the holder with {@code cause} (ignored once it is already failing or done); the callback runs once the
     * holder's in-flight operations have completed.
     */
    void fail(Throwable cause);

    /** From the splicer's watchdog, every {@link SlotTable#TICK_NANOS} while the slot is taken: check deadlines. */
    default void tick(long now) {
    }
}
