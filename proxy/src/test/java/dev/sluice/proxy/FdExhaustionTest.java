package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Origin;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A Sluice that runs out of file descriptors, for real: a child JVM under a low RLIMIT_NOFILE (prlimit), and more
 * clients than it has fds for. It must neither spin nor flood its log, and must serve again once clients leave.
 */
class FdExhaustionTest {
    private static final int NOFILE = 256;
    private static final int CLIENTS = 400;

    private static String conf(String extra, int originPort) {
        return """
                sluice {
                  listeners = [ { name = http, address = "127.0.0.1:0" } ]
                  upstreams { origin { servers = ["127.0.0.1:%d"] } }
                  routes = [ { upstream = origin } ]
                  admin.address = "127.0.0.1:0"
                  access-log.enabled = false
                  # the clients below send nothing: keep them open for the whole test
                  timeouts.request-head = 120s
                %s
                }
                """.formatted(originPort, extra);
    }

    /**
     * max-connections far above what the fds allow, so accepting fails with EMFILE: the listeners pause and retry
     * with backoff, so the process stays nearly idle while saturated and logs the failure about once.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void outOfFds_acceptBacksOff_noSpinNoFlood_servesOnceClientsLeave(String transport, @TempDir Path dir) throws Exception {
        try (Origin origin = Origin.builder().name("fd-" + transport).build()) {
            Path conf = dir.resolve("sluice.conf");
            Files.writeString(conf, conf("""
                      event-loops = 2
                      transport = %s
                      limits.max-connections = 100000
                    """.formatted(transport), origin.port()));
            try (ChildSluice sluice = new ChildSluice(conf, NOFILE, dir)) {
                sluice.check(() -> {
                    List<Socket> clients = new ArrayList<>();
                    try {
                        for (int i = 0; i < CLIENTS; i++) {
                            Socket s = new Socket();
                            s.connect(new InetSocketAddress("127.0.0.1", sluice.port), 5000); // completes in the backlog
                            clients.add(s);
                        }
                        sluice.awaitLine(Pattern.compile("Too many open files"), 20); // saturated: accepting failed
                        assertTrue(sluice.openFds() > NOFILE - 16, "saturated: " + sluice.openFds() + " fds open");

                        long before = sluice.cpuTicks();
                        Thread.sleep(3000); // a measuring window, not a wait for an event
                        long used = sluice.cpuTicks() - before;
                        // a loop spinning on a failing accept burns a core: 300 ticks in this window per loop
                        assertTrue(used < 50, "CPU while saturated: " + used + " ticks in 3 s (100 ticks = 1 core-second)");
                        // one WARNING per listener per 10 s; Netty's own handling logged one per failure (io_uring)
                        // or one per second per listening socket (epoll, NIO)
                        assertEquals(1, sluice.linesContaining("Too many open files"), "lines about it");
                        assertEquals(0, sluice.linesContaining("reached at the tail of the pipeline"));
                    } finally {
                        for (Socket s : clients) {
                            s.close();
                        }
                    }
                    try (TestClient c = new TestClient(sluice.port)) {
                        TestClient.Response r = c.send("GET /after?size=100 HTTP/1.1\r\nHost: t\r\n\r\n").read();
                        assertEquals(200, r.status, r.toString());
                    }
                    assertTrue(metric(sluice, "sluice_client_connections_refused_total{reason=\"fd_exhausted\"}") > 0);
                    ConnectionLimitTest.await(() -> metric(sluice, "sluice_listener_sockets_paused{reason=\"fd_exhausted\"}") == 0,
                            "every listening socket accepting again");
                });
            }
        }
    }

    /**
     * The default limit, derived from RLIMIT_NOFILE, keeps Sluice below EMFILE: with more clients than fds it stops
     * accepting at the limit, the clients past it wait in the backlog (not refused, not reset), and the first of
     * them is served as soon as a connection closes.
     */
    @Test
    void derivedLimit_stopsAcceptingBeforeFdsRunOut_clientsPastItWait(@TempDir Path dir) throws Exception {
        int nofile = 512;
        int clients = 600;
        try (Origin origin = Origin.builder().name("fd-derived").build()) {
            Path conf = dir.resolve("sluice.conf");
            // one loop: one listening socket, so the accept queue is first in, first out and nothing races
            Files.writeString(conf, conf("  event-loops = 1", origin.port()));
            try (ChildSluice sluice = new ChildSluice(conf, nofile, dir)) {
                sluice.check(() -> {
                    Matcher m = sluice.awaitLine(Pattern.compile("limits.max-connections = (\\d+), derived from RLIMIT_NOFILE "
                            + nofile + " as"), 10);
                    int max = Integer.parseInt(m.group(1));
                    assertTrue(max > 16 && max < nofile / 2, "derived " + max);
                    List<TestClient> all = new ArrayList<>();
                    try {
                        for (int i = 0; i < clients; i++) {
                            all.add(new TestClient(sluice.port));
                        }
                        ConnectionLimitTest.await(() -> metric(sluice, "sluice_listener_sockets_paused{reason=\"limit\"}") == 1,
                                "the listener paused at the limit");
                        assertEquals(max, metric(sluice, "sluice_client_connections"), "exactly the limit accepted");
                        assertEquals(0.0, metric(sluice, "sluice_client_connections_refused_total{reason=\"limit\"}"));
                        assertEquals(0.0, metric(sluice, "sluice_client_connections_refused_total{reason=\"fd_exhausted\"}"));
                        assertEquals(max, metric(sluice, "sluice_client_connections_max"));

                        assertEquals(200, all.get(0).send("GET /first?size=100 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
                        TestClient next = all.get(max); // first in the accept queue
                        next.send("GET /next?size=100 HTTP/1.1\r\nHost: t\r\n\r\n");
                        next.socket.setSoTimeout(500);
                        assertThrows(SocketTimeoutException.class, next::read, "waits while the limit is full");
                        next.socket.setSoTimeout(20_000);
                        all.get(0).close();
                        assertEquals(200, next.read().status, "served once a connection closed");
                    } finally {
                        for (TestClient c : all) {
                            c.close();
                        }
                    }
                    assertEquals(0, sluice.linesContaining("Too many open files"));
                    ConnectionLimitTest.await(() -> metric(sluice, "sluice_listener_sockets_paused{reason=\"limit\"}") == 0,
                            "accepting again");
                    try (TestClient c = new TestClient(sluice.port)) {
                        assertEquals(200, c.send("GET /after?size=100 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
                    }
                });
            }
        }
    }

    private static double metric(ChildSluice s, String nameAndLabels) {
        try {
            return s.metric(nameAndLabels);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
