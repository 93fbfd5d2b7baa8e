package dev.sluice.splice;

import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

/** A zero-byte transfer or send: nothing to splice, the callback runs from a task. */
final class CompletedTransfer implements SpliceTransfer, Runnable {
    /** The splice facility's one logger. */
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Splicer.class);

    private final SpliceCallback cb;
    private volatile boolean done;

    CompletedTransfer(SpliceCallback cb) {
        this.cb = cb;
    }

    @Override
    public void run() {
        done = true;
        try {
            cb.done(0, null);
        } catch (Throwable t) {
            logger.warn("splice callback threw", t);
        }
    }

    @Override
    public void cancel() {
        // Nothing in flight; the callback reports success.
    }

    @Override
    public long bytesMoved() {
        return 0;
    }

    @Override
    public boolean isDone() {
        return done;
    }
}
