package dev.sluice.admin;

import java.lang.management.ManagementFactory;

/**
 * The machine's recent CPU use, for background warm jobs to take only the CPU clients leave idle: all cores, or the
 * container's share where the JVM sees a cgroup limit (the JDK's {@code OperatingSystemMXBean.getCpuLoad()}, the use
 * since its previous call), sampled at most every {@link #SAMPLE_NANOS}. Thread-safe; the jobs' threads ask it
 * before each background fetch.
 */
final class CpuLoad {
    private static final System.Logger LOG = System.getLogger(CpuLoad.class.getName());
    static final long SAMPLE_NANOS = 200_000_000L;

    private final com.sun.management.OperatingSystemMXBean os;
    private long sampledNanos;
    private int percent;

    CpuLoad() {
        os = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean o
                ? o : null;
        sampledNanos = System.nanoTime();
        percent = read(); // the first reading covers the time since boot: it starts the window
    }

    /** Percent of the CPU in use lately, 0 to 100; -1 when the JVM cannot tell (logged once). */
    synchronized int percent() {
        long now = System.nanoTime();
        if (now - sampledNanos >= SAMPLE_NANOS) {
            sampledNanos = now;
            percent = read();
        }
        return percent;
    }

    private int read() {
        double load = os == null ? -1 : os.getCpuLoad();
        if (load < 0) {
            if (percent != -1) {
                LOG.log(System.Logger.Level.WARNING, "this JVM does not report the machine's CPU use: background"
                        + " warm jobs wait only for clients waiting for upstreams, not for the CPU");
            }
            return -1;
        }
        return (int) Math.round(load * 100);
    }
}
