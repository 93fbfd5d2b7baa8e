package dev.sluice.splice;

/** A running splice; see {@link Splicer#transfer} and {@link Splicer#pump}. */
public interface SpliceTransfer {
    /**
     * Cancels the transfer: in-flight operations are cancelled and the callback runs with a
     * {@link SpliceCancelledException} once all of them have completed (unless it already finished). Safe from any
     * thread; idempotent.
     */
    void cancel();

    /** Bytes written to the output so far. */
    long bytesMoved();

    /** Whether the callback has run. */
    boolean isDone();

    /**
     * Whether {@link #cancel()} is followed by the callback soon, because the transfer's own submissions are
     * cancelled (the caller waits for it before closing the sockets, whose fds the kernel still holds). False for a
     * {@link SendMechanism#WRITE}: Netty owns those writes, cancel does nothing and the callback comes when the
     * write completes or the channel closes, so the caller closes the channel instead of waiting.
     */
    default boolean cancelCompletes() {
        return true;
    }
}
