package dev.sluice.proxy;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * Puts the calling thread (an event loop) under SCHED_BATCH with sched_setscheduler(2) through FFM. That needs no
 * privilege: a thread may always move between SCHED_OTHER and SCHED_BATCH at priority 0.
 */
@SuppressWarnings("restricted") // native access is the point of this class; the JVM runs with it enabled
final class ThreadPolicy {
    private static final int SCHED_BATCH = 3;
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(PathElement.groupElement("errno"));

    private ThreadPolicy() {}

    /** Linked on first use; holds why not when linking failed. */
    private static final class Link {
        static final MethodHandle SETSCHEDULER;
        static final Throwable UNAVAILABLE;

        static {
            MethodHandle h = null;
            Throwable cause = null;
            try {
                if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                    throw new UnsupportedOperationException("scheduling policies are Linux only");
                }
                Linker linker = Linker.nativeLinker();
                h = linker.downcallHandle(linker.defaultLookup().findOrThrow("sched_setscheduler"),
                        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
                        Linker.Option.captureCallState("errno"));
            } catch (Throwable t) {
                cause = t;
            }
            SETSCHEDULER = h;
            UNAVAILABLE = cause;
        }
    }

    /**
     * Puts the calling thread under SCHED_BATCH.
     *
     * @return null when it now runs under it, else why not (the thread keeps its policy)
     */
    static String batch() {
        if (Link.UNAVAILABLE != null) {
            return String.valueOf(Link.UNAVAILABLE);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment param = arena.allocate(JAVA_INT); // struct sched_param { int sched_priority; } = 0
            int r = (int) Link.SETSCHEDULER.invokeExact(state, 0, SCHED_BATCH, param);
            return r == 0 ? null : "sched_setscheduler: errno " + (int) ERRNO.get(state, 0L);
        } catch (Throwable t) {
            return String.valueOf(t);
        }
    }
}
