package dev.sluice.proxy;

import io.micrometer.core.instrument.search.Search;
import java.util.function.BooleanSupplier;

/**
 * Waits for what a test needs to have happened, instead of sleeping for a time it is guessed to take: the condition
 * is polled (what the loops publish only as meters or socket state has no event to block on) for at most 10 s.
 */
final class Await {
    private Await() {}

    static void until(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting: " + what);
            }
            Thread.sleep(5);
        }
    }

    /** Pipes taken by transfers now (all loops): a splice is in flight. */
    static double pipesInUse(Fixture f) {
        return Search.in(f.sluice.registry()).name("sluice.splice.pipes.in.use").gauges().stream()
                .mapToDouble(g -> g.value()).sum();
    }
}
