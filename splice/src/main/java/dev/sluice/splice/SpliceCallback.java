package dev.sluice.splice;

/** Completion of a {@link SpliceTransfer}; runs on the channels' event loop exactly once. */
@FunctionalInterface
public interface SpliceCallback {
    /**
     * @param bytesMoved bytes written to the output (for a failed transfer: what the output received)
     * @param cause      {@code null} on success, else a {@link SpliceException}: {@link PrematureEofException},
     *                   {@link SpliceTimeoutException}, {@link SpliceCancelledException},
     *                   {@link SpliceIoException} (with errno) or {@link SpliceRefusedException} (nothing moved,
     *                   copy instead)
     */
    void done(long bytesMoved, Throwable cause);
}
