package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.LeakDetection;
import io.netty.util.ResourceLeakDetector;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Netty's buffer leak detection, set from {@code sluice.buffer-leak-detection} and counted: a buffer that
 * is garbage-collected without {@code release()} is logged with its records and adds one to
 * {@code sluice_buffer_leaks_total}. Netty reports each distinct record once, so the count is of distinct
 * leak reports, not of buffers. The level is process-wide, as Netty's is.
 */
public final class BufferLeaks {
    /** Netty instantiates this class (by name) as the detector for every tracked resource type. */
    static final String DETECTOR_PROPERTY = "io.netty.customResourceLeakDetector";
    private static final String LEVEL_PROPERTY = "io.netty.leakDetection.level";

    private static final System.Logger LOG = System.getLogger(BufferLeaks.class.getName());
    private static final AtomicLong REPORTS = new AtomicLong();

    private BufferLeaks() {}

    /**
     * Makes Netty build its leak detectors as {@link Detector}s. Netty reads the property once, when the
     * first detector is made (the first buffer class to load), so this runs before any Netty buffer;
     * an operator's own choice of detector is kept.
     */
    static void install() {
        if (System.getProperty(DETECTOR_PROPERTY) == null) {
            System.setProperty(DETECTOR_PROPERTY, Detector.class.getName());
        }
    }

    static void apply(LeakDetection level) {
        String name = level.name().toLowerCase(java.util.Locale.ROOT);
        String property = System.getProperty(LEVEL_PROPERTY);
        if (property != null && !property.trim().equalsIgnoreCase(name)) {
            LOG.log(System.Logger.Level.WARNING, "-D{0}={1} ignored: sluice.buffer-leak-detection = {2} decides",
                    LEVEL_PROPERTY, property, name);
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.valueOf(level.name()));
        if (level != LeakDetection.DISABLED) {
            LOG.log(System.Logger.Level.INFO, "buffer leak detection {0}: leaks are logged and counted in"
                    + " sluice_buffer_leaks_total; it costs CPU on the event loops", name);
        }
    }

    /** Distinct leak reports since the process started. */
    public static long reports() {
        return REPORTS.get();
    }

    /** A Netty leak detector that counts what it reports and logs it through Sluice's logger. */
    public static final class Detector<T> extends ResourceLeakDetector<T> {
        public Detector(Class<?> resourceType, int samplingInterval) {
            super(resourceType, samplingInterval);
        }

        /** The form Netty looks for first (and logs an error without); maxActive is unused by Netty too. */
        public Detector(Class<?> resourceType, int samplingInterval, long maxActive) {
            this(resourceType, samplingInterval);
        }

        @Override
        protected boolean needReport() {
            return true; // count even where Netty's own logger would drop ERROR
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            long n = REPORTS.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, "LEAK ({0} so far): a {1} was garbage-collected without release();"
                    + " its recent accesses:{2}", n, resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            long n = REPORTS.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, "LEAK ({0} so far): a {1} was garbage-collected without release();"
                    + " set sluice.buffer-leak-detection = advanced or paranoid to see where it was used", n, resourceType);
        }
    }
}
