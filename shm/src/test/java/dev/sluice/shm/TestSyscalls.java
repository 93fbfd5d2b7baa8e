package dev.sluice.shm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Syscalls the tests need beyond what shm itself uses: a loopback TCP client socket, pipes and splice(2) to send from
 * a memfd the way the splice module will, and per-thread capabilities / RLIMIT_MEMLOCK to make mlock refuse. Each
 * wrapper returns the result or throws {@link IOException} with the errno text.
 */
@SuppressWarnings("restricted")
final class TestSyscalls {
    static final int AF_INET = 2;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 02000000;
    static final int SOL_SOCKET = 1;
    static final int SO_SNDBUF = 7;
    static final int O_CLOEXEC = 02000000;
    static final int SPLICE_F_MOVE = 1;
    static final int CAP_IPC_LOCK = 14;
    private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SOCKET = link("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT));
    private static final MethodHandle SETSOCKOPT = link("setsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = link("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
            JAVA_INT));
    private static final MethodHandle PIPE2 = link("pipe2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SPLICE = link("splice", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS,
            JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CLOSE = link("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle CAPGET = link("capget", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle CAPSET = link("capset", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle GETRLIMIT = link("getrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
            ADDRESS));
    private static final MethodHandle SETRLIMIT = link("setrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
            ADDRESS));

    private TestSyscalls() {}

    private static MethodHandle link(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), fd, Linker.Option.captureCallState("errno"));
    }

    private static IOException fail(String what, MemorySegment capture) {
        int errno = (int) ERRNO.get(capture, 0L);
        return new IOException(what + " failed: " + Native.describe(errno));
    }

    /** A blocking TCP socket connected to 127.0.0.1:port, with SO_SNDBUF set when {@code sndbuf > 0}. */
    static int connectLoopback(int port, int sndbuf) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int fd = (int) SOCKET.invokeExact(capture, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw fail("socket", capture);
            }
            try {
                if (sndbuf > 0) {
                    MemorySegment v = arena.allocateFrom(JAVA_INT, sndbuf);
                    if ((int) SETSOCKOPT.invokeExact(capture, fd, SOL_SOCKET, SO_SNDBUF, v, 4) != 0) {
                        throw fail("setsockopt(SO_SNDBUF)", capture);
                    }
                }
                // struct sockaddr_in: family (host order), port and address (network order), 8 bytes of zero.
                MemorySegment sa = arena.allocate(16);
                sa.set(JAVA_SHORT, 0, (short) AF_INET);
                sa.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short) port);
                sa.set(JAVA_BYTE, 4, (byte) 127);
                sa.set(JAVA_BYTE, 7, (byte) 1);
                if ((int) CONNECT.invokeExact(capture, fd, sa, 16) != 0) {
                    throw fail("connect", capture);
                }
                return fd;
            } catch (IOException | RuntimeException e) {
                close(fd);
                throw e;
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {read end, write end} of a new pipe. */
    static int[] pipe() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            if ((int) PIPE2.invokeExact(capture, fds, O_CLOEXEC) != 0) {
                throw fail("pipe2", capture);
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Sends {@code length} bytes of file {@code fileFd} from {@code offset} to socket {@code sockFd} by splicing
     * file -> pipe -> socket, blocking, the way a zero-copy hit would; returns when the last splice into the socket
     * completed (which says nothing about when the kernel lets go of the pages).
     */
    static void spliceFileToSocket(int fileFd, long offset, long length, int[] pipe, int sockFd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment off = arena.allocateFrom(JAVA_LONG, offset);
            long remaining = length;
            while (remaining > 0) {
                long in = (long) SPLICE.invokeExact(capture, fileFd, off, pipe[1], MemorySegment.NULL,
                        Math.min(remaining, 64 * 1024L), SPLICE_F_MOVE);
                if (in <= 0) {
                    throw in == 0 ? new IOException("splice from file: unexpected end") : fail("splice in", capture);
                }
                long left = in;
                while (left > 0) {
                    long out = (long) SPLICE.invokeExact(capture, pipe[0], MemorySegment.NULL, sockFd,
                            MemorySegment.NULL, left, SPLICE_F_MOVE);
                    if (out <= 0) {
                        throw fail("splice out", capture);
                    }
                    left -= out;
                }
                remaining -= in;
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int ignored = (int) CLOSE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Drops CAP_IPC_LOCK from the calling thread's effective set (capabilities are per thread on Linux, so the rest of
     * the JVM keeps it); mlock from this thread then obeys RLIMIT_MEMLOCK. Returns false when it could not.
     */
    static boolean dropIpcLockForThisThread() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment header = arena.allocate(8);
            header.set(JAVA_INT, 0, LINUX_CAPABILITY_VERSION_3);
            header.set(JAVA_INT, 4, 0); // this thread
            MemorySegment data = arena.allocate(24); // 2 x {effective, permitted, inheritable}
            if ((int) CAPGET.invokeExact(capture, header, data) != 0) {
                return false;
            }
            int effective = data.get(JAVA_INT, 0);
            data.set(JAVA_INT, 0, effective & ~(1 << CAP_IPC_LOCK));
            return (int) CAPSET.invokeExact(capture, header, data) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** {soft, hard} RLIMIT_MEMLOCK; -1 = unlimited. */
    static long[] memlockLimit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment rl = arena.allocate(JAVA_LONG, 2);
            if ((int) GETRLIMIT.invokeExact(capture, 8, rl) != 0) {
                throw new IllegalStateException("getrlimit");
            }
            return new long[] {rl.getAtIndex(JAVA_LONG, 0), rl.getAtIndex(JAVA_LONG, 1)};
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Sets the (process-wide) RLIMIT_MEMLOCK; returns false when refused. */
    static boolean setMemlockLimit(long soft, long hard) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment rl = arena.allocate(JAVA_LONG, 2);
            rl.setAtIndex(JAVA_LONG, 0, soft);
            rl.setAtIndex(JAVA_LONG, 1, hard);
            return (int) SETRLIMIT.invokeExact(capture, 8, rl) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Number of open file descriptors of this process. */
    static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** Lines of /proc/self/maps mentioning {@code text}. */
    static long mappingsMentioning(String text) throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains(text)).count();
        }
    }
}
