package dev.sluice.proxy;

import java.util.concurrent.atomic.AtomicLong;

/**
 * At most one log line per interval for an event that input from outside can repeat at will (a broken upstream, a
 * flood of bad requests): the first occurrence is logged, later ones within the interval are counted, and the next
 * line that is logged says how many were not. Safe from any thread; the event path pays one CAS at most.
 */
final class LogLimiter {
    private final long intervalNanos;
    private final AtomicLong nextNanos = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong suppressed = new AtomicLong();

    LogLimiter(java.time.Duration interval) {
        this.intervalNanos = interval.toNanos();
    }

    /** -1: do not log this one; otherwise log it, and say that this many were left out since the last line. */
    long admit() {
        long now = System.nanoTime();
        long next = nextNanos.get();
        if ((next == Long.MIN_VALUE || now - next >= 0) && nextNanos.compareAndSet(next, now + intervalNanos)) {
            return suppressed.getAndSet(0);
        }
        suppressed.incrementAndGet();
        return -1;
    }

    /** " (N more since the last report)" for a count from {@link #admit}, or "". */
    static String more(long suppressed) {
        return suppressed > 0 ? " (" + suppressed + " more since the last report)" : "";
    }
}
