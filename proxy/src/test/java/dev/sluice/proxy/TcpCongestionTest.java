package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * tcp-congestion on listeners and upstream groups, observed from outside with ss(8) on the live sockets: Sluice's
 * own sockets carry the configured algorithm, the client's and the origin's keep the system's (the control).
 */
class TcpCongestionTest {
    private static String sysctl(String name) throws IOException {
        try (FileInputStream in = new FileInputStream("/proc/sys/net/ipv4/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    /** "local-port>remote-port" -> congestion control, for established sockets touching {@code ports}. */
    private static Map<String, String> sockets(int... ports) throws Exception {
        StringBuilder filter = new StringBuilder("(");
        for (int p : ports) {
            filter.append(filter.length() > 1 ? " or " : " ").append("sport = :").append(p).append(" or dport = :").append(p);
        }
        filter.append(" )");
        Process ss = new ProcessBuilder("ss", "-tinH", "state", "established", filter.toString())
                .redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(ss.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, ss.exitValue(), out);
        Map<String, String> cc = new HashMap<>();
        String key = null;
        for (String line : out.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            if (!Character.isWhitespace(line.charAt(0))) {
                String[] f = line.trim().split("\\s+");
                // Recv-Q Send-Q Local:Port Peer:Port
                key = port(f[2]) + ">" + port(f[3]);
            } else if (key != null) {
                cc.put(key, line.trim().split("\\s+")[0]);
                key = null;
            }
        }
        return cc;
    }

    private static int port(String hostPort) {
        return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
    }

    private static String only(Map<String, String> cc, java.util.function.Predicate<String> which, String what) {
        List<String> found = cc.entrySet().stream().filter(e -> which.test(e.getKey())).map(Map.Entry::getValue).toList();
        assertEquals(1, found.size(), what + " in " + cc);
        return found.get(0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll"})
    void listenerAndUpstreamSockets_useTheConfiguredAlgorithm_peersKeepTheSystems(String transport) throws Exception {
        String system = sysctl("tcp_congestion_control");
        String chosen = system.equals("reno") ? "cubic" : "reno"; // reno is built into every kernel
        assertTrue(List.of(sysctl("tcp_available_congestion_control").split(" ")).contains(chosen));
        String hocon = Fixture.simple("""
                sluice.transport = %3$s
                sluice.listeners = [
                  { name = http, address = "127.0.0.1:0", tcp-congestion = %2$s }
                  { name = raw, mode = tcp, address = "127.0.0.1:0", upstream = l4, tcp-congestion = %2$s }
                ]
                sluice.upstreams.origin.tcp-congestion = %2$s
                sluice.upstreams.l4 { servers = ["127.0.0.1:%1$d"], tcp-congestion = %2$s }
                """.replace("%2$s", chosen).replace("%3$s", transport));
        try (Fixture f = new Fixture(hocon, "cc"); TestClient c = f.client(); TestClient raw = new TestClient(f.sluice.port("raw"))) {
            TestClient.Response r = c.send("GET /cc/a?size=1m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/cc/a", 0);
            assertEquals(-1, r.firstMismatch);
            TestClient.Response l4 = raw.send("GET /cc/b?size=64k HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/cc/b", 0);
            assertEquals(-1, l4.firstMismatch);
            int proxy = f.port();
            int rawPort = f.sluice.port("raw");
            int origin = f.origin(0).port();
            int client = c.socket.getLocalPort();
            // both connections stay open: keep-alive client, pooled upstream, open L4 pair
            Map<String, String> cc = sockets(proxy, rawPort, origin);
            assertEquals(chosen, only(cc, k -> k.startsWith(proxy + ">"), "Sluice's accepted socket (http)"));
            assertEquals(chosen, only(cc, k -> k.startsWith(rawPort + ">"), "Sluice's accepted socket (tcp)"));
            String upstreamKey = ">" + origin;
            assertEquals(List.of(chosen, chosen), cc.entrySet().stream().filter(e -> e.getKey().endsWith(upstreamKey))
                    .map(Map.Entry::getValue).toList(), "Sluice's upstream sockets (http pool, L4) in " + cc);
            // the control: the same query sees the other ends with the system's
            assertEquals(system, only(cc, k -> k.equals(client + ">" + proxy), "the client's socket"));
            assertFalse(cc.entrySet().stream().filter(e -> e.getKey().startsWith(origin + ">"))
                    .anyMatch(e -> !e.getValue().equals(system)), "the origin's sockets: " + cc);
            assertNotEquals(system, chosen);
            assertEquals(transport, f.sluice.transport());
            assertEquals(0, failures(f));
        }
    }

    /** NIO cannot set TCP_CONGESTION: the connections still work, on the system's algorithm, and it is counted. */
    @Test
    void nioTransport_cannotSetIt_servesAnyway_countedPerListenerAndGroup() throws Exception {
        String system = sysctl("tcp_congestion_control");
        String chosen = system.equals("reno") ? "cubic" : "reno";
        String hocon = Fixture.simple("""
                sluice.transport = nio
                sluice.listeners = [ { name = http, address = "127.0.0.1:0", tcp-congestion = %2$s } ]
                sluice.upstreams.origin.tcp-congestion = %2$s
                """.replace("%2$s", chosen));
        try (Fixture f = new Fixture(hocon, "nio"); TestClient c = f.client()) {
            for (int i = 0; i < 2; i++) {
                TestClient.Response r = c.send("GET /n/" + i + "?size=100k HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/n/" + i, 0);
                assertEquals(-1, r.firstMismatch);
            }
            int proxy = f.port();
            assertEquals(system, only(sockets(proxy), k -> k.startsWith(proxy + ">"), "Sluice's accepted socket"));
            assertEquals(1, failures(f, "listener", "http"), "the listening socket");
            assertEquals(1, failures(f, "upstream", "origin"), "one upstream connection, kept alive");
        }
    }

    private static double failures(Fixture f) {
        return f.sluice.registry().find("sluice.tcp.congestion.failures").counters().stream()
                .mapToDouble(io.micrometer.core.instrument.Counter::count).sum();
    }

    private static double failures(Fixture f, String side, String name) {
        return f.sluice.registry().find("sluice.tcp.congestion.failures").tag("side", side).tag("name", name)
                .counters().stream().mapToDouble(io.micrometer.core.instrument.Counter::count).sum();
    }
}
