package dev.sluice.splice;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Temporarily lowers the soft RLIMIT_NOFILE of this process (tests of the fd-shortage fallback). Everything the
 * restore needs is loaded and exercised before the limit drops: with it lowered not even a class file opens.
 */
final class Rlimit implements AutoCloseable {
    private static final int RLIMIT_NOFILE = 7;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final FunctionDescriptor DESC =
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
    private static final MethodHandle GET =
            LINKER.downcallHandle(LINKER.defaultLookup().find("getrlimit").orElseThrow(), DESC);
    private static final MethodHandle SET =
            LINKER.downcallHandle(LINKER.defaultLookup().find("setrlimit").orElseThrow(), DESC);

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment old = arena.allocate(16);

    private Rlimit(long soft) {
        MemorySegment lowered = arena.allocate(16);
        get(old);
        set(old); // warm the restore path
        lowered.set(ValueLayout.JAVA_LONG, 0, soft);
        lowered.set(ValueLayout.JAVA_LONG, 8, old.get(ValueLayout.JAVA_LONG, 8));
        set(lowered);
    }

    static Rlimit lowerNoFile(long soft) {
        return new Rlimit(soft);
    }

    private static void get(MemorySegment into) {
        int r;
        try {
            r = (int) GET.invokeExact(RLIMIT_NOFILE, into);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r != 0) {
            throw new IllegalStateException("getrlimit failed");
        }
    }

    private static void set(MemorySegment from) {
        int r;
        try {
            r = (int) SET.invokeExact(RLIMIT_NOFILE, from);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r != 0) {
            throw new IllegalStateException("setrlimit failed");
        }
    }

    @Override
    public void close() {
        set(old);
        arena.close();
    }
}
