package dev.sluice.shm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few Linux syscalls shm needs, called through FFM (no JNI). Every wrapper returns the syscall's result when it
 * succeeded and {@code -errno} when it failed; errno is captured by the linker right after the call
 * ({@code captureCallState("errno")}), because anything the JVM does between the call and a later read (GC, safepoint,
 * another native call) may overwrite the thread's errno.
 *
 * <p>Linking happens once, in this class's initializer; if it fails (not Linux, no native access) the cause is kept and
 * reported by {@link #unavailabilityCause()} instead of surfacing as an {@link ExceptionInInitializerError} at the first
 * call, in the manner of Netty's {@code IoUring.isAvailable()}.
 */
@SuppressWarnings("restricted") // native access is the point of this class; the JVM runs with it enabled
final class Native {
    // x86_64 / aarch64 Linux values (asm-generic and x86 agree for everything used here).
    static final int MFD_CLOEXEC = 0x0001;
    static final int MFD_NOEXEC_SEAL = 0x0008; // Linux >= 6.3; EINVAL before, then we retry without it
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_POPULATE = 0x8000;
    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int O_RDWR = 02;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_CLOEXEC = 02000000;
    static final int RLIMIT_MEMLOCK = 8;
    static final long RLIM_INFINITY = -1L;

    static final int EPERM = 1;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int ENOMEM = 12;
    static final int EEXIST = 17;
    static final int EINVAL = 22;
    static final int ENOSYS = 38;
    static final int EOPNOTSUPP = 95;

    private static final Throwable UNAVAILABILITY_CAUSE;
    private static final StructLayout CAPTURE_LAYOUT;
    private static final VarHandle ERRNO;
    private static final MethodHandle MEMFD_CREATE;
    private static final MethodHandle OPEN;
    private static final MethodHandle UNLINK;
    private static final MethodHandle FTRUNCATE;
    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MLOCK;
    private static final MethodHandle MUNLOCK;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle CLOSE;
    private static final MethodHandle GETRLIMIT;
    private static final MethodHandle STRERROR;
    private static final int PAGE_SIZE;

    static {
        Throwable cause = null;
        StructLayout capture = null;
        VarHandle errno = null;
        MethodHandle memfd = null, open = null, unlink = null, ftruncate = null, mmap = null, munmap = null,
                mlock = null, munlock = null, fallocate = null, close = null, getrlimit = null, strerror = null,
                pagesize = null;
        int pageSize = 4096;
        try {
            if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
                throw new UnsupportedOperationException("shm needs Linux, not " + System.getProperty("os.name"));
            }
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            capture = Linker.Option.captureStateLayout();
            errno = capture.varHandle(MemoryLayout.PathElement.groupElement("errno"));
            Linker.Option err = Linker.Option.captureCallState("errno");
            memfd = link(linker, libc, "memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), err);
            open = link(linker, libc, "open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                    err, Linker.Option.firstVariadicArg(2));
            unlink = link(linker, libc, "unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS), err);
            ftruncate = link(linker, libc, "ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), err);
            mmap = link(linker, libc, "mmap",
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
                    err);
            munmap = link(linker, libc, "munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), err);
            mlock = link(linker, libc, "mlock", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), err);
            munlock = link(linker, libc, "munlock", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), err);
            fallocate = link(linker, libc, "fallocate",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), err);
            close = link(linker, libc, "close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), err);
            getrlimit = link(linker, libc, "getrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), err);
            strerror = link(linker, libc, "strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
            pagesize = link(linker, libc, "getpagesize", FunctionDescriptor.of(JAVA_INT));
            pageSize = (int) pagesize.invokeExact();
        } catch (Throwable t) {
            cause = t;
        }
        UNAVAILABILITY_CAUSE = cause;
        CAPTURE_LAYOUT = capture;
        ERRNO = errno;
        MEMFD_CREATE = memfd;
        OPEN = open;
        UNLINK = unlink;
        FTRUNCATE = ftruncate;
        MMAP = mmap;
        MUNMAP = munmap;
        MLOCK = mlock;
        MUNLOCK = munlock;
        FALLOCATE = fallocate;
        CLOSE = close;
        GETRLIMIT = getrlimit;
        STRERROR = strerror;
        PAGE_SIZE = pageSize;
    }

    private Native() {}

    private static MethodHandle link(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd,
                                     Linker.Option... options) {
        MemorySegment symbol = lookup.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return linker.downcallHandle(symbol, fd, options);
    }

    static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /** Why the syscalls could not be linked, or {@code null} when they were. */
    static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    static void ensureAvailable() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw new ShmException("native shared memory is unavailable: " + UNAVAILABILITY_CAUSE, 0,
                    UNAVAILABILITY_CAUSE);
        }
    }

    static int pageSize() {
        return PAGE_SIZE;
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** memfd_create(2): a new anonymous shmem file; returns the fd or -errno. */
    static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) MEMFD_CREATE.invokeExact(capture, arena.allocateFrom(name), flags);
            return r >= 0 ? r : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** open(2) with a mode; returns the fd or -errno. */
    static int open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags, mode);
            return r >= 0 ? r : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** unlink(2); returns 0 or -errno. */
    static int unlink(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) UNLINK.invokeExact(capture, arena.allocateFrom(path));
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ftruncate(2); returns 0 or -errno. */
    static int ftruncate(int fd, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) FTRUNCATE.invokeExact(capture, fd, length);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * mmap(2) of {@code length} bytes of {@code fd} from offset 0; returns the address or -errno. User-space addresses
     * are below 2^47, so a negative result is unambiguous (MAP_FAILED is -1).
     */
    static long mmap(long length, int prot, int flags, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            long r = (long) MMAP.invokeExact(capture, 0L, length, prot, flags, fd, 0L);
            return r != -1L ? r : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** munmap(2); returns 0 or -errno. Unmapping also undoes mlock for the range. */
    static int munmap(long address, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) MUNMAP.invokeExact(capture, address, length);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** mlock(2): faults the range in and keeps it resident; returns 0 or -errno. */
    static int mlock(long address, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) MLOCK.invokeExact(capture, address, length);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** munlock(2); returns 0 or -errno. */
    static int munlock(long address, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) MUNLOCK.invokeExact(capture, address, length);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** fallocate(2); returns 0 or -errno. */
    static int fallocate(int fd, int mode, long offset, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r;
            do {
                r = (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length);
            } while (r != 0 && errno(capture) == EINTR);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * close(2); returns 0 or -errno. EINTR is not retried: on Linux the fd is released even then, and a retry could
     * close an fd another thread has just been given.
     */
    static int close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            int r = (int) CLOSE.invokeExact(capture, fd);
            return r == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** getrlimit(2): {soft, hard} ({@link #RLIM_INFINITY} = unlimited), or null when the call failed. */
    static long[] getrlimit(int resource) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
            MemorySegment rlim = arena.allocate(JAVA_LONG, 2);
            int r = (int) GETRLIMIT.invokeExact(capture, resource, rlim);
            return r == 0 ? new long[] {rlim.getAtIndex(JAVA_LONG, 0), rlim.getAtIndex(JAVA_LONG, 1)} : null;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** "ENOMEM (Cannot allocate memory)": the symbolic name where we know it, then libc's text. */
    static String describe(int errno) {
        String text;
        try {
            // glibc's strerror returns a pointer to a constant string for known values (thread-safe since 2.32).
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            text = p.equals(MemorySegment.NULL) ? "errno " + errno : p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            text = "errno " + errno;
        }
        String symbol = switch (errno) {
            case EPERM -> "EPERM";
            case EINTR -> "EINTR";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EEXIST -> "EEXIST";
            case EINVAL -> "EINVAL";
            case ENOSYS -> "ENOSYS";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case 2 -> "ENOENT";
            case 9 -> "EBADF";
            case 13 -> "EACCES";
            case 24 -> "EMFILE";
            case 28 -> "ENOSPC";
            default -> null;
        };
        return symbol == null ? text : symbol + " (" + text + ")";
    }

    /** RLIMIT_MEMLOCK as text for error messages, e.g. "RLIMIT_MEMLOCK soft=8388608 hard=8388608 bytes". */
    static String memlockLimit() {
        long[] lim = getrlimit(RLIMIT_MEMLOCK);
        if (lim == null) {
            return "RLIMIT_MEMLOCK unknown";
        }
        return "RLIMIT_MEMLOCK soft=" + limitText(lim[0]) + " hard=" + limitText(lim[1]) + " bytes";
    }

    private static String limitText(long value) {
        return value == RLIM_INFINITY ? "unlimited" : Long.toString(value);
    }
}
