package dev.sluice.splice;

/**
 * How a transfer, send or tee ended: the one outcome type callers branch on (instead of the exception classes) and
 * the {@code outcome} tag ({@link #tag()}) of {@code sluice.splice.transfers}. {@link #of} maps a callback's cause to it.
 */
public enum SpliceOutcome {
    COMPLETED("completed"),
    PREMATURE_EOF("premature_eof"),
    TIMEOUT("timeout"),
    CANCELLED("cancelled"),
    /** The output's peer hung up while the transfer stalled ({@link OutputClosedException}). */
    OUTPUT_CLOSED("output_closed"),
    ERROR("error"),
    REFUSED("refused");

    private final String tag;

    SpliceOutcome(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }

    public static SpliceOutcome of(Throwable cause) {
        if (cause == null) {
            return COMPLETED;
        }
        if (cause instanceof PrematureEofException) {
            return PREMATURE_EOF;
        }
        if (cause instanceof SpliceTimeoutException) {
            return TIMEOUT;
        }
        if (cause instanceof SpliceCancelledException) {
            return CANCELLED;
        }
        if (cause instanceof OutputClosedException) {
            return OUTPUT_CLOSED;
        }
        if (cause instanceof SpliceRefusedException) {
            return REFUSED;
        }
        return ERROR;
    }
}
