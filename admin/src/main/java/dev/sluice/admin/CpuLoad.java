package dev.sluice.admin;

import java.lang.management.ManagementFactory;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * The machine's recent CPU use, for background warm jobs to take only the CPU clients leave idle: all cores, or the
 * container's share where the JVM sees a cgroup limit (the JDK's {@code OperatingSystemMXBean.getCpuLoad()}, the use
 * since its previous call), sampled at most every {@link #SAMPLE_NANOS}. Thread-safe; the jobs' threads ask it
 * before each background fetch.
 */
final class CpuLoad {
    private static final System.Logger LOG = System.getLogger(CpuLoad.class.getName());
    static final long SAMPLE_NANOS = 200_000_000L;

    private final DoubleSupplier load;
    private final LongSupplier clock;
    private long sampledNanos;
    private long samples;
    private int percent;

    /** The JDK's reading of this machine (or container). */
    static CpuLoad machine() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        return new CpuLoad(os instanceof com.sun.management.OperatingSystemMXBean o ? o::getCpuLoad : () -> -1,
                System::nanoTime);
    }

    /** {@code load}: 0 to 1 since its previous call, negative when unknown; {@code clock}: nanoseconds. */
    CpuLoad(DoubleSupplier load, LongSupplier clock) {
        this.load = load;
        this.clock = clock;
        sampledNanos = clock.getAsLong();
        percent = read(); // the first reading covers the time since boot: it starts the window
    }

    /** Percent of the CPU in use lately, 0 to 100; -1 when the JVM cannot tell (logged once). */
    synchronized int percent() {
        long now = clock.getAsLong();
        if (now - sampledNanos >= SAMPLE_NANOS) {
            sampledNanos = now;
            samples++;
            percent = read();
        }
        return percent;
    }

    /** Samples taken so far: a new value means {@link #percent} read the CPU again. */
    synchronized long samples() {
        return samples;
    }

    private int read() {
        double l = load.getAsDouble();
        if (l < 0) {
            if (percent != -1) {
                LOG.log(System.Logger.Level.WARNING, "this JVM does not report the machine's CPU use: background"
                        + " warm jobs wait only for clients waiting for upstreams, not for the CPU");
            }
            return -1;
        }
        return (int) Math.round(l * 100);
    }
}
