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
}
