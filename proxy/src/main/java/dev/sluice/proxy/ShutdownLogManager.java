package dev.sluice.proxy;

import java.util.logging.LogManager;

/**
 * JUL's log manager, except that JUL's own shutdown hook does not close the handlers: that hook runs in any order
 * with Main's, which stops Sluice, so what Sluice logs while it stops (the stop line included) was lost. Main's hook
 * calls {@link #stopped()} when Sluice has stopped. Main names it in {@code java.util.logging.manager} (unless the
 * operator names another manager) before anything logs: JUL reads that once, when LogManager initializes.
 */
public final class ShutdownLogManager extends LogManager {
    @Override
    public void reset() {
        if (Thread.currentThread().getClass().getName().startsWith(LogManager.class.getName() + "$")) {
            return; // JUL's shutdown hook (LogManager$Cleaner): stopped() resets after Sluice has stopped
        }
        super.reset();
    }

    /** Flushes and closes the handlers, if this is the manager in use. */
    static void stopped() {
        if (LogManager.getLogManager() instanceof ShutdownLogManager m) {
            m.resetNow();
        }
    }

    private void resetNow() {
        super.reset();
    }
}
