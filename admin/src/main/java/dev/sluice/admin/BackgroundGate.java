package dev.sluice.admin;

import java.util.concurrent.Semaphore;
import java.util.function.IntSupplier;

/**
 * When a background warm fetch may start, for all background jobs together: not while client requests wait for
 * upstream response heads, not while the CPU is at or above {@code cache.warm.max-cpu-percent}, and at most
 * {@code cache.warm.max-in-flight} at once. After a busy CPU reading the fetches in flight ramp up again from one,
 * doubling with each quieter reading: fetches held back together would otherwise all start on the first quiet
 * reading, and the burst is what clients' latency tail feels. Thread-safe.
 */
final class BackgroundGate {
    /** {@link #tryStart}'s answer when only the in-flight cap holds a fetch back: not a pause worth showing. */
    static final String IN_FLIGHT_CAP = "the in-flight cap";

    private final IntSupplier clientsWaiting;
    private final CpuLoad cpu;
    private final int maxCpuPercent;
    private final int maxInFlight;
    private final Semaphore permits;
    /** Fetches allowed in flight now (under the CPU wait): 1 after a busy reading, doubled per quieter one. */
    private int ramp = 1;
    private long rampSample = -1;

    BackgroundGate(IntSupplier clientsWaiting, CpuLoad cpu, int maxCpuPercent, int maxInFlight) {
        this.clientsWaiting = clientsWaiting;
        this.cpu = cpu;
        this.maxCpuPercent = maxCpuPercent;
        this.maxInFlight = maxInFlight;
        this.permits = new Semaphore(maxInFlight);
    }

    /**
     * Takes a place for one fetch and answers null, or answers why the fetch must wait: clients waiting for
     * upstreams, the CPU, the ramp after a busy CPU, or {@link #IN_FLIGHT_CAP}. A place taken is given back with
     * {@link #done}.
     */
    synchronized String tryStart() {
        if (clientsWaiting.getAsInt() > 0) {
            return "clients waiting for upstreams";
        }
        if (maxCpuPercent < 100) {
            int now = cpu.percent();
            long sample = cpu.samples();
            if (now >= maxCpuPercent || (now < 0 && maxCpuPercent == 0)) {
                ramp = 1;
                rampSample = sample;
                return "CPU at " + now + "% (cache.warm.max-cpu-percent = " + maxCpuPercent + ")";
            }
            if (sample != rampSample) {
                rampSample = sample;
                ramp = Math.min(maxInFlight, ramp * 2);
            }
            if (ramp < maxInFlight && inFlight() >= ramp && now >= 0) {
                return "ramping up after a busy CPU (" + ramp + " at once)";
            }
        }
        return permits.tryAcquire() ? null : IN_FLIGHT_CAP;
    }

    void done() {
        permits.release();
    }

    /** Background fetches in flight now. */
    int inFlight() {
        return maxInFlight - permits.availablePermits();
    }
}
