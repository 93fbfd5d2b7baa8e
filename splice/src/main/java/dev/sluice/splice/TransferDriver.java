package dev.sluice.splice;

/**
 * How a {@link Transfer} issues its fills ({@code in -> pipe}) and drains ({@code pipe -> out}, or a SEND_ZC):
 * splice(2) on the loop thread ({@link InlineDriver}) or io_uring submissions ({@link UringDriver}). The transfer keeps
 * the state machine and the accounting ({@code remaining}, {@code pipeBytes}, the polls); a driver reads that
 * accounting, issues what can be issued, and hands every result to {@link Transfer#filled} or {@link Transfer#drained}.
 * One per transfer, confined to its loop.
 */
sealed interface TransferDriver permits InlineDriver, UringDriver {
    /**
     * Moves or submits what the accounting allows while the transfer is RUNNING, then lets it check for its end
     * ({@link Transfer#checkEnd}) unless it stopped running or continues later.
     */
    void advance();

    /** The CQE of a FILL this driver submitted. */
    default void onFill(int res) {
        throw new IllegalStateException("a FILL completion for a driver that submits none");
    }

    /** The CQE of a DRAIN this driver submitted. */
    default void onDrain(int res) {
        throw new IllegalStateException("a DRAIN completion for a driver that submits none");
    }

    /** Whether a drain of this driver is in flight (its result still to come). */
    default boolean drainInFlight() {
        return false;
    }

    /** A fill hit EAGAIN while the pipe holds bytes or a drain is pending: retry it after the next drain. */
    default void fillAfterDrain() {
        // Inline: the loop drains again in the same turn, or after POLLOUT, then fills again.
    }

    /** The transfer is failing: cancel this driver's operations in flight (fill, then drain). */
    default void cancelInFlight() {
    }
}
