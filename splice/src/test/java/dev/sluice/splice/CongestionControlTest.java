package dev.sluice.splice;

import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.unix.RawUnixChannelOption;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Splicer#congestionControl} on real loopback sockets, against what setsockopt(TCP_CONGESTION) set. */
class CongestionControlTest extends LoopTestBase {

    private static String sysctl(String name) throws Exception {
        return Files.readString(Path.of("/proc/sys/net/ipv4/" + name)).trim();
    }

    /** Sets TCP_CONGESTION on {@code ch} through Netty, as the proxy's tcp-congestion does. */
    private static void set(Channel ch, String algorithm) {
        byte[] name = algorithm.getBytes(StandardCharsets.US_ASCII);
        RawUnixChannelOption option = new RawUnixChannelOption("TCP_CONGESTION", 6, 13, name.length);
        Rig.onLoop(() -> ch.config().setOption(option, ByteBuffer.wrap(name)));
    }

    @Test
    void congestionControl_connectedSockets_readsTheSystemDefaultThenWhatWasSet() throws Exception {
        Rig rig = rig();
        String system = sysctl("tcp_congestion_control");
        List<String> available = List.of(sysctl("tcp_available_congestion_control").split("\\s+"));
        assertTrue(available.size() >= 2, () -> "need two algorithms to tell them apart: " + available);

        assertEquals(system, Rig.onLoop(() -> Splicer.congestionControl(rig.b)), "a client socket");
        assertEquals(system, Rig.onLoop(() -> Splicer.congestionControl(rig.a)), "an accepted socket");

        // Every available algorithm other than the system's, each read back after it was set.
        for (String algorithm : available) {
            if (!algorithm.equals(system)) {
                set(rig.b, algorithm);
                assertEquals(algorithm, Rig.onLoop(() -> Splicer.congestionControl(rig.b)));
                assertEquals(system, Rig.onLoop(() -> Splicer.congestionControl(rig.a)), "only b changed");
            }
        }
        set(rig.b, system);
        assertEquals(system, Rig.onLoop(() -> Splicer.congestionControl(rig.b)));
    }

    @Test
    void congestionControl_setToCubicThenReno_readBack() throws Exception {
        Rig rig = rig();
        String system = sysctl("tcp_congestion_control");
        List<String> available = List.of(sysctl("tcp_available_congestion_control").split("\\s+"));
        List<String> known = List.of("cubic", "reno").stream().filter(available::contains).toList();
        assertTrue(!known.isEmpty(), () -> "neither cubic nor reno in " + available);
        for (String algorithm : known) {
            set(rig.a, algorithm);
            assertEquals(algorithm, Rig.onLoop(() -> Splicer.congestionControl(rig.a)));
            assertEquals(system, Rig.onLoop(() -> Splicer.congestionControl(rig.b)), "only a changed");
        }
    }

    @Test
    void congestionControl_cannotTell_null() throws Exception {
        Rig rig = rig();
        EmbeddedChannel embedded = new EmbeddedChannel();
        assertNull(Splicer.congestionControl(embedded), "not a Unix channel");
        embedded.finishAndReleaseAll();

        Rig.onLoop(() -> rig.b.close()).sync();
        assertNull(Rig.onLoop(() -> Splicer.congestionControl(rig.b)), "closed");
        // a Unix domain socket and a NIO channel: see SendFallbackTest
    }
}
