package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class BalanceTest {
    private static String conf(String balance, String servers) {
        return """
                sluice {
                  event-loops = 1
                  listeners = [ { name = http, address = "127.0.0.1:0" } ]
                  upstreams { g { balance = %s, servers = %s } }
                  routes = [ { upstream = g } ]
                  admin.enabled = false
                  access-log.enabled = false
                }
                """.formatted(balance, servers).replace("PORT_A", "%1$d").replace("PORT_B", "%2$d");
    }

    @Test
    void roundRobin_weights_spreadRequestsInProportion() throws Exception {
        String servers = "[{ address = \"127.0.0.1:PORT_A\", weight = 3 }, \"127.0.0.1:PORT_B\"]";
        try (Fixture f = new Fixture(conf("round-robin", servers), "A", "B"); TestClient c = f.client()) {
            Map<String, Integer> hits = new HashMap<>();
            StringBuilder order = new StringBuilder();
            for (int i = 0; i < 8; i++) {
                String o = c.send("GET /w?size=1 HTTP/1.1\r\nHost: t\r\n\r\n").read().header("X-Origin");
                hits.merge(o, 1, Integer::sum);
                order.append(o);
            }
            assertEquals(6, hits.get("A"), order.toString());
            assertEquals(2, hits.get("B"), order.toString());
            // smooth: B is interleaved, never two B in a row and no run of more than 3 A
            assertEquals(-1, order.indexOf("BB"), order.toString());
            assertEquals(-1, order.indexOf("AAAA"), order.toString());
        }
    }

    @Test
    void leastConnections_avoidsTheBusyServer() throws Exception {
        String servers = "[\"127.0.0.1:PORT_A\", \"127.0.0.1:PORT_B\"]";
        try (Fixture f = new Fixture(conf("least-connections", servers), "A", "B");
                TestClient slow = f.client(); TestClient fast = f.client()) {
            slow.send("GET /slow?size=1&delay=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
            CompletableFuture<String> slowOrigin = CompletableFuture.supplyAsync(() -> {
                try {
                    return slow.read().header("X-Origin");
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Await.until("the slow request in flight on one server",
                    () -> f.origin(0).requestsReceived() + f.origin(1).requestsReceived() == 1);
            java.util.List<String> fastOrigins = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                fastOrigins.add(fast.send("GET /fast?size=1 HTTP/1.1\r\nHost: t\r\n\r\n").read().header("X-Origin"));
            }
            String busy = slowOrigin.join();
            for (String o : fastOrigins) {
                assertEquals(busy.equals("A") ? "B" : "A", o, "a request went to the busy server: " + fastOrigins);
            }
        }
    }

}
