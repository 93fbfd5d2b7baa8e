package dev.sluice.loadtest;

import io.netty.channel.Channel;
import io.netty.channel.unix.UnixChannel;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * {@code recv(fd, NULL, n, MSG_TRUNC | MSG_DONTWAIT)}: on TCP the kernel drops up to n queued bytes without copying
 * them to user space, so a load client that does not verify bodies leaves the CPU to the proxy under test.
 * Only for epoll channels (their fd is ours to read between Netty's edge-triggered reads); probed once.
 */
final class SocketDiscard {
    private static final int MSG_TRUNC = 0x20;
    private static final int MSG_DONTWAIT = 0x40;
    private static final MethodHandle RECV;
    private static final Throwable UNAVAILABILITY_CAUSE;

    static {
        MethodHandle h = null;
        Throwable cause = null;
        try {
            h = downcall(
                    "recv",
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        } catch (Throwable t) {
            cause = t;
        }
        RECV = h;
        UNAVAILABILITY_CAUSE = cause;
    }

    /** Native access is what this class is for (the JVM runs with --enable-native-access=ALL-UNNAMED). */
    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(symbol).orElseThrow(), fd, options);
    }

    private SocketDiscard() {}

    static boolean isAvailable(Channel ch) {
        return RECV != null && Transport.EPOLL && ch instanceof UnixChannel;
    }

    static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * Drops up to {@code max} queued bytes.
     *
     * @return bytes dropped (0 if none queued), or -1 on EOF or error (let Netty's next read find out which)
     */
    static long discard(Channel ch, long max) {
        try {
            long n = (long) RECV.invokeExact(((UnixChannel) ch).fd().intValue(), MemorySegment.NULL, max,
                    MSG_TRUNC | MSG_DONTWAIT);
            if (n > 0) {
                return n;
            }
            return n == 0 ? -1 : 0; // 0 = EOF; <0 = EAGAIN (or an error Netty's next read reports)
        } catch (Throwable t) {
            return -1;
        }
    }
}
