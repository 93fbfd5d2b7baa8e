package dev.sluice.splice;

import io.netty.channel.uring.IoUring;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;

/** What the host and the JVM allow the splice module, asked once per process by {@link Splicer}. */
final class SpliceProbe {
    /** The splice facility's one logger. */
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Splicer.class);

    private SpliceProbe() {
    }

    /** Why this host cannot splice, or null: io_uring with IORING_OP_SPLICE, pipes, FFM, the Netty internals. */
    static Throwable host() {
        try {
            if (!IoUring.isAvailable()) {
                return new UnsupportedOperationException("io_uring is unavailable", IoUring.unavailabilityCause());
            }
            if (!IoUring.isSpliceSupported()) {
                return new UnsupportedOperationException("the kernel's io_uring does not support IORING_OP_SPLICE");
            }
            if (NettyUring.UNAVAILABILITY_CAUSE != null) {
                return NettyUring.UNAVAILABILITY_CAUSE;
            }
            int[] fds = new int[2];
            int r = Syscalls.pipe(fds);
            if (r < 0) {
                return new IOException("pipe2 failed: " + Syscalls.errnoName(-r));
            }
            Syscalls.close(fds[0]);
            Syscalls.close(fds[1]);
            return null;
        } catch (Throwable t) {
            // e.g. FFM downcalls refused (--enable-native-access missing with --illegal-native-access=deny)
            return t;
        }
    }

    /** Whether splices run inline (splice(2) on the loop) or as io_uring SQEs: {@link Splicer#MODE_PROPERTY}. */
    static boolean inlineMode() {
        String mode = System.getProperty(Splicer.MODE_PROPERTY, "inline").trim();
        return switch (mode) {
            case "inline" -> true;
            case "uring" -> false;
            default -> {
                logger.warn("{}={} is neither inline nor uring; using inline", Splicer.MODE_PROPERTY, mode);
                yield true;
            }
        };
    }
}
