package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.search.Search;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** limits.max-connections: at the limit the listeners stop accepting, and clients wait in the backlog. */
class ConnectionLimitTest {
    private static String conf(int max) {
        return conf(max, "auto");
    }

    private static String conf(int max, String transport) {
        return """
                sluice {
                  transport = %s
                  event-loops = 2
                  listeners = [
                    { name = http, address = "127.0.0.1:0" }
                    { name = raw, mode = tcp, address = "127.0.0.1:0", upstream = origin }
                  ]
                  upstreams { origin { servers = ["127.0.0.1:%%1$d"] } }
                  routes = [ { name = main, upstream = origin, listener = http } ]
                  admin.address = "127.0.0.1:0"
                  access-log.enabled = false
                  limits.max-connections = %d
                }
                """.formatted(transport, max);
    }

    private static String get(String path) {
        return "GET " + path + "?size=100 HTTP/1.1\r\nHost: t\r\n\r\n";
    }

    /**
     * Three connections (two http, one tcp: the limit is for the process) fill a limit of 3; a fourth client is
     * not answered while they stay open, the open ones still are, and the fourth is served once one closes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void atTheLimit_newClientWaitsUntilAConnectionCloses(String transport) throws Exception {
        // a listening socket per listener and loop; NIO has one per listener
        int sockets = transport.equals("nio") ? 2 : 4;
        try (Fixture f = new Fixture(conf(3, transport), "limit-" + transport)) {
            TestClient c1 = f.client();
            TestClient c2 = f.client();
            TestClient t1 = new TestClient(f.sluice.port("raw"));
            TestClient c4 = null;
            try {
                assertEquals(200, c1.send(get("/a")).read().status);
                assertEquals(200, c2.send(get("/b")).read().status);
                assertEquals(200, t1.send(get("/c")).read().status);
                // both listeners: every listening socket stops accepting
                await(() -> paused(f, "limit") == sockets, "all " + sockets + " listening sockets paused at the limit");
                assertEquals(3.0, gauge(f, "sluice.client.connections.max"));

                c4 = f.client(); // the kernel completes the handshake: it waits in the accept queue
                c4.send(get("/d"));
                c4.socket.setSoTimeout(500);
                TestClient waiting = c4;
                assertThrows(SocketTimeoutException.class, waiting::read, "not accepted while at the limit");
                c4.socket.setSoTimeout(20_000);

                assertEquals(200, c1.send(get("/a2")).read().status, "open connections keep working");
                assertEquals(200, t1.send(get("/c2")).read().status);

                c2.close(); // below the limit: accepting resumes and the waiting client is served
                TestClient.Response r = c4.read();
                assertEquals(200, r.status, r.toString());
                await(() -> paused(f, "limit") == sockets, "paused again: c1, t1 and c4 fill the limit");
                assertEquals(0.0, refused(f, "limit"), "no connection was accepted past the limit");
                assertEquals(0.0, refused(f, "fd_exhausted"));
            } finally {
                c1.close();
                t1.close();
                if (c4 != null) {
                    c4.close();
                }
            }
            await(() -> paused(f, "limit") == 0, "accepting again once connections closed");
            try (TestClient c = f.client()) {
                assertEquals(200, c.send(get("/e")).read().status);
            }
        }
    }

    /**
     * Forty clients at once against a limit of 4 on two loops: a loop may accept before the pause reaches it, and
     * such a connection is closed at once and counted. Never more than 4 are served; the rest wait.
     */
    @Test
    void burst_neverMoreThanTheLimitServed_extraAcceptsClosedAndCounted() throws Exception {
        int clients = 40;
        try (Fixture f = new Fixture(conf(4), "burst"); ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<TestClient> all = new ArrayList<>();
            try {
                for (int i = 0; i < clients; i++) {
                    all.add(f.client().send(get("/burst/" + i)));
                }
                await(() -> paused(f, "limit") == 4, "every listening socket paused");
                List<Future<String>> outcomes = new ArrayList<>();
                for (TestClient c : all) {
                    outcomes.add(readers.submit(outcome(c)));
                }
                int served = 0;
                int closed = 0;
                int waiting = 0;
                for (Future<String> o : outcomes) {
                    switch (o.get()) {
                        case "200" -> served++;
                        case "closed" -> closed++;
                        case "waiting" -> waiting++;
                        default -> throw new AssertionError(o.get());
                    }
                }
                assertEquals(4, served, "served " + served + ", closed " + closed + ", waiting " + waiting);
                assertEquals(closed, (int) refused(f, "limit"), "every connection closed past the limit is counted");
                assertEquals(clients - 4 - closed, waiting);
                assertEquals(4.0, gauge(f, "sluice.client.connections"));
            } finally {
                for (TestClient c : all) {
                    c.close();
                }
            }
            await(() -> paused(f, "limit") == 0, "accepting again");
            try (TestClient c = f.client()) {
                assertEquals(200, c.send(get("/after")).read().status);
            }
        }
    }

    /** What became of a client that sent a request: answered, closed by Sluice, or still waiting after 1 s. */
    private static Callable<String> outcome(TestClient c) {
        return () -> {
            c.socket.setSoTimeout(1000);
            try {
                return Integer.toString(c.read().status);
            } catch (SocketTimeoutException e) {
                return "waiting";
            } catch (IOException e) { // EOF, or a reset: closed with the request unread
                return "closed";
            }
        };
    }

    static double paused(Fixture f, String reason) {
        var g = Search.in(f.sluice.registry()).name("sluice.listener.sockets.paused").tag("reason", reason).gauge();
        return g == null ? Double.NaN : g.value();
    }

    static double refused(Fixture f, String reason) {
        var c = Search.in(f.sluice.registry()).name("sluice.client.connections.refused").tag("reason", reason).counter();
        return c == null ? Double.NaN : c.count();
    }

    private static double gauge(Fixture f, String name) {
        var g = Search.in(f.sluice.registry()).name(name).gauge();
        return g == null ? Double.NaN : g.value();
    }

    /** Polls what the loops publish only as meters (no event to wait on), for at most 10 s. */
    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        Await.until(what, condition);
    }
}
