package dev.sluice.proxy;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.sluice.conf.SluiceConfig.LoopScheduling;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * Sets the Linux scheduling policy of the calling thread (an event loop) with sched_setscheduler(2) through FFM.
 * {@code SCHED_BATCH} needs no privilege; a thread may always move between SCHED_OTHER and SCHED_BATCH at priority 0.
 */
@SuppressWarnings("restricted") // native access is the point of this class; the JVM runs with it enabled
final class ThreadPolicy {
    static final int SCHED_OTHER = 0;
    static final int SCHED_BATCH = 3;

    private static final Throwable UNAVAILABLE;
    private static final MethodHandle SETSCHEDULER;
    private static final MethodHandle GETSCHEDULER;
    private static final StructLayout CAPTURE;
    private static final VarHandle ERRNO;

    static {
        Throwable cause = null;
        MethodHandle set = null, get = null;
        StructLayout capture = null;
        VarHandle errno = null;
        try {
            if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                throw new UnsupportedOperationException("scheduling policies are Linux only");
            }
            Linker linker = Linker.nativeLinker();
            capture = Linker.Option.captureStateLayout();
            errno = capture.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
            var lookup = linker.defaultLookup();
            set = linker.downcallHandle(lookup.findOrThrow("sched_setscheduler"),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), Linker.Option.captureCallState("errno"));
            get = linker.downcallHandle(lookup.findOrThrow("sched_getscheduler"),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT), Linker.Option.captureCallState("errno"));
        } catch (Throwable t) {
            cause = t;
        }
        UNAVAILABLE = cause;
        SETSCHEDULER = set;
        GETSCHEDULER = get;
        CAPTURE = capture;
        ERRNO = errno;
    }

    private ThreadPolicy() {}

    static int policyOf(LoopScheduling s) {
        return s == LoopScheduling.BATCH ? SCHED_BATCH : SCHED_OTHER;
    }

    /**
     * Applies {@code s} to the calling thread.
     *
     * @return null when the thread now runs under it, else why not (the thread keeps its policy)
     */
    static String apply(LoopScheduling s) {
        if (UNAVAILABLE != null) {
            return String.valueOf(UNAVAILABLE);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment param = arena.allocate(JAVA_INT); // struct sched_param { int sched_priority; } = 0
            int r = (int) SETSCHEDULER.invokeExact(state, 0, policyOf(s), param);
            if (r != 0) {
                return "sched_setscheduler: errno " + (int) ERRNO.get(state, 0L);
            }
            return null;
        } catch (Throwable t) {
            return String.valueOf(t);
        }
    }

    /** The calling thread's policy number (SCHED_OTHER 0, SCHED_BATCH 3), or -1 when it cannot be read. */
    static int current() {
        if (UNAVAILABLE != null) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            return (int) GETSCHEDULER.invokeExact(state, 0);
        } catch (Throwable t) {
            return -1;
        }
    }
}
