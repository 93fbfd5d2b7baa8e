package dev.sluice.splice;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The few libc calls the splice module makes outside io_uring, through FFM. Only {@link Splice} is on the per-chunk
 * path (inline mode, see {@link Transfer}; sendfile, see {@link SendfileSend}); pipes are created once and pooled, O_NONBLOCK is set once per
 * connection, and reads only drain a pipe after a failed transfer. Every call returns {@code -errno} on failure so callers branch on an int, as io_uring CQEs do.
 */
final class Syscalls {
    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EIO = 5;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int ENFILE = 23;
    static final int EMFILE = 24;
    static final int EPIPE = 32;
    static final int ECONNRESET = 104;
    static final int EALREADY = 114;
    static final int ETIME = 62;
    static final int ECANCELED = 125;

    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int F_GETFL = 3;
    static final int F_SETFL = 4;
    static final int F_SETPIPE_SZ = 1031;
    static final int F_GETPIPE_SZ = 1032;
    static final int FIONREAD = 0x541B;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle PIPE2 = downcall("pipe2",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle FCNTL_INT = downcall("fcntl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_PTR = downcall("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                    ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG));

    private static final MethodHandle SPLICE = downcall("splice",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private static final MethodHandle TEE = downcall("tee",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    /** sendfile(2); glibc's x86_64 and aarch64 off_t is 64-bit, so this is sendfile64. */
    private static final MethodHandle SENDFILE = downcall("sendfile",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));

    private static final MethodHandle SETSOCKOPT = downcall("setsockopt",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private static final MethodHandle GETSOCKOPT = downcall("getsockopt",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    static final int SOL_SOCKET = 1;
    static final int SO_RCVBUF = 8;
    static final int SO_RCVLOWAT = 18;
    static final int IPPROTO_TCP = 6;
    static final int TCP_CONGESTION = 13;
    /** TCP_CA_NAME_MAX: a congestion control's name, NUL included. */
    private static final int TCP_CA_NAME_MAX = 16;

    private Syscalls() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        SymbolLookup libc = LINKER.defaultLookup();
        MemorySegment symbol = libc.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc symbol not found: " + name));
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** {@code pipe2(O_NONBLOCK|O_CLOEXEC)}: fills {@code fds[0]} (read end) and {@code fds[1]}; 0 or -errno. */
    static int pipe(int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment pair = arena.allocate(ValueLayout.JAVA_INT, 2);
            int r = (int) PIPE2.invokeExact(state, pair, O_NONBLOCK | O_CLOEXEC);
            if (r < 0) {
                return -errno(state);
            }
            fds[0] = pair.getAtIndex(ValueLayout.JAVA_INT, 0);
            fds[1] = pair.getAtIndex(ValueLayout.JAVA_INT, 1);
            return 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code fcntl(fd, cmd, arg)}: the call's result, or -errno. */
    static int fcntl(int fd, int cmd, int arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) FCNTL_INT.invokeExact(state, fd, cmd, arg);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Sets O_NONBLOCK on {@code fd}; returns 1 if it changed the flag, 0 if it was already set, or -errno. */
    static int setNonBlocking(int fd) {
        int flags = fcntl(fd, F_GETFL, 0);
        if (flags < 0) {
            return flags;
        }
        if ((flags & O_NONBLOCK) != 0) {
            return 0;
        }
        int r = fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        return r < 0 ? r : 1;
    }

    /** Whether O_NONBLOCK is set on {@code fd}; -errno on failure. */
    static int isNonBlocking(int fd) {
        int flags = fcntl(fd, F_GETFL, 0);
        return flags < 0 ? flags : (flags & O_NONBLOCK) != 0 ? 1 : 0;
    }

    /** Bytes readable now ({@code FIONREAD}), or -errno. */
    static int readable(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            int r = (int) IOCTL_PTR.invokeExact(state, fd, (long) FIONREAD, out);
            return r < 0 ? -errno(state) : out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The congestion control of the TCP socket {@code fd} ({@code getsockopt(IPPROTO_TCP, TCP_CONGESTION)}), or null
     * when the call fails (not a TCP socket, a closed fd).
     */
    static String tcpCongestion(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment name = arena.allocate(TCP_CA_NAME_MAX);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            len.set(ValueLayout.JAVA_INT, 0, TCP_CA_NAME_MAX);
            int r = (int) GETSOCKOPT.invokeExact(state, fd, IPPROTO_TCP, TCP_CONGESTION, name, len);
            if (r < 0) {
                return null;
            }
            // The kernel copies min(len, TCP_CA_NAME_MAX) bytes of the NUL-padded name.
            int n = Math.min(len.get(ValueLayout.JAVA_INT, 0), TCP_CA_NAME_MAX);
            int end = 0;
            while (end < n && name.get(ValueLayout.JAVA_BYTE, end) != 0) {
                end++;
            }
            return end == 0 ? null : new String(name.asSlice(0, end).toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.US_ASCII);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code close(fd)}: 0 or -errno. */
    static int close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) CLOSE.invokeExact(state, fd);
            return r < 0 ? -errno(state) : 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code read(fd, buf, len)}: bytes read, 0 at EOF, or -errno. */
    static long read(int fd, MemorySegment buf, long len) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long r = (long) READ.invokeExact(state, fd, buf, len);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * splice(2), sendfile(2) (and setsockopt(2)) called directly, for {@link Transfer}'s inline mode, read batching
     * and {@link SendfileSend}: one per
     * event loop, confined to it, so the errno capture, the 64-bit file offset and the option value live in segments
     * allocated once (no allocation per call).
     */
    static final class Splice {
        private final MemorySegment state;
        private final MemorySegment offset;
        private final MemorySegment intValue;
        private final MemorySegment intLength;
        /** A struct __kernel_timespec for IORING_OP_TIMEOUT (the kernel copies it when the SQE is prepared). */
        private final MemorySegment timespec;

        Splice() {
            Arena arena = Arena.ofAuto();
            state = arena.allocate(CALL_STATE);
            offset = arena.allocate(ValueLayout.JAVA_LONG);
            intValue = arena.allocate(ValueLayout.JAVA_INT);
            intLength = arena.allocate(ValueLayout.JAVA_INT);
            timespec = arena.allocate(16, 8);
            // Link the downcalls now (on an invalid fd: EBADF, no effect): the first call of each costs
            // milliseconds, which would otherwise land in the middle of the first batched transfer.
            setsockopt(-1, SOL_SOCKET, SO_RCVLOWAT, 1);
            getsockopt(-1, SOL_SOCKET, SO_RCVBUF);
            sendfile(-1, -1, 0L, 0L);
            tee(-1, -1, 0L, 0);
        }

        /** Sets this loop's timespec to {@code nanos} and returns its address (valid as long as this object). */
        long timespec(long nanos) {
            timespec.set(ValueLayout.JAVA_LONG, 0, nanos / 1_000_000_000L);
            timespec.set(ValueLayout.JAVA_LONG, 8, nanos % 1_000_000_000L);
            return timespec.address();
        }

        /** {@code getsockopt(fd, level, name, &value, &len)} of an int option: its value, or -errno. */
        int getsockopt(int fd, int level, int name) {
            try {
                intLength.set(ValueLayout.JAVA_INT, 0, 4);
                int r = (int) GETSOCKOPT.invokeExact(state, fd, level, name, intValue, intLength);
                return r < 0 ? -errno(state) : intValue.get(ValueLayout.JAVA_INT, 0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** Bytes readable now on {@code fd} ({@code FIONREAD}), or -errno; no allocation. */
        int readable(int fd) {
            try {
                int r = (int) IOCTL_PTR.invokeExact(state, fd, (long) FIONREAD, intValue);
                return r < 0 ? -errno(state) : intValue.get(ValueLayout.JAVA_INT, 0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code setsockopt(fd, level, name, &value, sizeof(int))}: 0 or -errno. */
        int setsockopt(int fd, int level, int name, int value) {
            try {
                intValue.set(ValueLayout.JAVA_INT, 0, value);
                int r = (int) SETSOCKOPT.invokeExact(state, fd, level, name, intValue, 4);
                return r < 0 ? -errno(state) : 0;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code splice(in, NULL, out, NULL, len, flags)}: bytes moved, 0 at EOF, or -errno. */
        long splice(int in, int out, long len, int flags) {
            try {
                long r = (long) SPLICE.invokeExact(state, in, MemorySegment.NULL, out, MemorySegment.NULL, len, flags);
                return r < 0 ? -errno(state) : r;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /**
         * {@code sendfile(out, in, &inOffset, count)}: bytes sent from the file {@code in} at the 64-bit offset
         * {@code inOffset} to the socket {@code out}, or -errno. On a non-blocking socket a full send buffer gives a
         * short count, or -EAGAIN when nothing fit.
         */
        long sendfile(int out, int in, long inOffset, long count) {
            try {
                offset.set(ValueLayout.JAVA_LONG, 0, inOffset);
                long r = (long) SENDFILE.invokeExact(state, out, in, offset, count);
                return r < 0 ? -errno(state) : r;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /**
         * {@code tee(in, out, len, flags)}: duplicates up to {@code len} bytes from the head of pipe {@code in} into
         * pipe {@code out} without consuming them (page references, no copy); bytes, or -errno (-EAGAIN with
         * SPLICE_F_NONBLOCK when {@code out} has no free slot).
         */
        long tee(int in, int out, long len, int flags) {
            try {
                long r = (long) TEE.invokeExact(state, in, out, len, flags);
                return r < 0 ? -errno(state) : r;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code splice(in, NULL, out, &outOffset, len, flags)}: into a file at an explicit offset. */
        long spliceTo(int in, int out, long outOffset, long len, int flags) {
            try {
                offset.set(ValueLayout.JAVA_LONG, 0, outOffset);
                long r = (long) SPLICE.invokeExact(state, in, MemorySegment.NULL, out, offset, len, flags);
                return r < 0 ? -errno(state) : r;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code splice(in, &inOffset, out, NULL, len, flags)}: from a file at an explicit offset. */
        long spliceFrom(int in, long inOffset, int out, long len, int flags) {
            try {
                offset.set(ValueLayout.JAVA_LONG, 0, inOffset);
                long r = (long) SPLICE.invokeExact(state, in, offset, out, MemorySegment.NULL, len, flags);
                return r < 0 ? -errno(state) : r;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    static String errnoName(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENFILE -> "ENFILE";
            case EMFILE -> "EMFILE";
            case EPIPE -> "EPIPE";
            case ECONNRESET -> "ECONNRESET";
            case EALREADY -> "EALREADY";
            case ECANCELED -> "ECANCELED";
            case 22 -> "EINVAL";
            case 12 -> "ENOMEM";
            case 110 -> "ETIMEDOUT";
            case 107 -> "ENOTCONN";
            case 103 -> "ECONNABORTED";
            default -> "errno " + errno;
        };
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
