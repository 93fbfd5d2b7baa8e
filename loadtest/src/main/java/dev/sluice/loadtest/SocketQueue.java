package dev.sluice.loadtest;

import io.netty.channel.Channel;
import io.netty.channel.unix.UnixChannel;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Bytes a TCP socket has not yet had acknowledged (ioctl SIOCOUTQ), so a "reset after N bytes" fault can wait until
 * the peer really holds those N bytes before the RST (SO_LINGER 0 discards whatever is still queued). Probed once;
 * without it (NIO transport, no native access) callers fall back to a short delay.
 */
final class SocketQueue {
    private static final int SIOCOUTQ = 0x5411;
    private static final MethodHandle IOCTL;
    private static final Throwable UNAVAILABILITY_CAUSE;

    static {
        MethodHandle h = null;
        Throwable cause = null;
        try {
            h = downcall(
                    "ioctl",
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                            ValueLayout.ADDRESS),
                    Linker.Option.firstVariadicArg(2));
        } catch (Throwable t) {
            cause = t;
        }
        IOCTL = h;
        UNAVAILABILITY_CAUSE = cause;
    }

    /** Native access is what this class is for (the JVM runs with --enable-native-access=ALL-UNNAMED). */
    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(symbol).orElseThrow(), fd, options);
    }

    private SocketQueue() {}

    static boolean isAvailable() {
        return IOCTL != null;
    }

    static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /** Unacknowledged bytes in the channel's send queue, or -1 if unknown. */
    static int outq(Channel ch) {
        if (IOCTL == null || !(ch instanceof UnixChannel uc) || !ch.isOpen()) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            int rc = (int) IOCTL.invokeExact(uc.fd().intValue(), (long) SIOCOUTQ, out);
            return rc < 0 ? -1 : out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            return -1;
        }
    }
}
