package dev.sluice.splice;

import java.util.concurrent.TimeUnit;

/** No byte moved in either direction of the transfer for the idle timeout. */
public final class SpliceTimeoutException extends SpliceException {
    private static final long serialVersionUID = 1L;
    private final long idleTimeoutNanos;

    SpliceTimeoutException(long idleTimeoutNanos, long moved) {
        super(String.format("no progress for %d ms (idle timeout) after %d bytes",
                TimeUnit.NANOSECONDS.toMillis(idleTimeoutNanos), moved));
        this.idleTimeoutNanos = idleTimeoutNanos;
    }

    public long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }
}
