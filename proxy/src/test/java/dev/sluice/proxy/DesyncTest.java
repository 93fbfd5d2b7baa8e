package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Request smuggling and response desync through a scripted origin ({@link RawOrigin}): whatever a client or a
 * server sends, each client gets the response to its own request, and a connection whose framing is in doubt is
 * never reused. Each test here failed before its fix.
 */
class DesyncTest {
    /** The body of the smuggling request: itself a complete request of 50 bytes. */
    private static final String SMUGGLED = "GET /o/slow HTTP/1.1\r\nHost: h\r\nX-Smuggled: yes\r\n\r\n";

    /**
     * {@code Connection: Content-Length} used to make Sluice strip the length but still send the body, which the
     * origin then read as a second request; its (slow) response went to whichever client next used the pooled
     * connection. Framing and routing fields are never hop-by-hop: the option is ignored.
     */
    @ParameterizedTest
    @ValueSource(strings = {"Content-Length", "content-length, close", "Transfer-Encoding"})
    void connectionNamingAFramingField_doesNotSmuggleARequest(String option) throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> {
                if (x.path().equals("/o/slow")) {
                    Thread.sleep(300);
                }
                x.ok(x.path() + (x.header("X-Smuggled") != null ? " SMUGGLED" : ""));
            });
                Fixture f = new Fixture(origin.config("sluice.event-loops = 1"), "unused")) {
            assertEquals(50, SMUGGLED.length());
            boolean chunked = option.equals("Transfer-Encoding");
            String framing = chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 50\r\n";
            String body = chunked ? "32\r\n" + SMUGGLED + "\r\n0\r\n\r\n" : SMUGGLED;
            try (TestClient attacker = f.client()) {
                TestClient.Response r = attacker.send("POST /o/attacker HTTP/1.1\r\nHost: h\r\n" + framing
                        + "Connection: " + option + "\r\n\r\n" + body).read();
                assertEquals("/o/attacker", r.bodyText());
            }
            for (int i = 0; i < 4; i++) {
                try (TestClient c = f.client()) {
                    c.socket.setSoTimeout(5000);
                    TestClient.Response r = c.send("GET /o/victim" + i + " HTTP/1.1\r\nHost: h\r\n\r\n").read();
                    assertEquals("/o/victim" + i, r.bodyText(), "victim " + i + " got another request's response");
                }
                Thread.sleep(100);
            }
            List<String> heads = origin.heads;
            assertEquals(5, heads.size(), "the origin read these requests: " + heads);
            assertTrue(heads.stream().noneMatch(h -> h.contains("X-Smuggled")), "a request was smuggled: " + heads);
            String post = heads.get(0);
            assertNotNull(RawOrigin.header(post, chunked ? "Transfer-Encoding" : "Content-Length"), post);
        }
    }

    /** {@code Connection: Host} used to make Sluice forward an HTTP/1.1 request without Host. */
    @Test
    void connectionNamingHost_keepsHost() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.ok("h=" + x.header("Host")));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            TestClient.Response r = c.send("GET /x HTTP/1.1\r\nHost: objects.example\r\nConnection: Host, X-Drop\r\n"
                    + "X-Drop: 1\r\n\r\n").read();
            assertEquals("h=objects.example", r.bodyText());
            assertNull(RawOrigin.header(origin.heads.get(0), "X-Drop"), "a field Connection names is still hop-by-hop");
        }
    }

    /**
     * An upstream {@code Connection: Content-Length} used to reach the client as a keep-alive 200 with no length at
     * all: the client could not tell where the body ends and hung.
     */
    @Test
    void upstreamConnectionNamingContentLength_keepsTheLength() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.send(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Content-Length, X-Hop\r\nX-Hop: 1\r\n\r\nhello"));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            c.socket.setSoTimeout(3000);
            for (int i = 0; i < 2; i++) {
                TestClient.Response r = c.send("GET /x" + i + " HTTP/1.1\r\nHost: h\r\n\r\n").read();
                assertEquals("5", r.header("Content-Length"), r.toString());
                assertEquals("hello", r.bodyText());
                assertNull(r.header("X-Hop"));
            }
        }
    }

    /**
     * An origin that answers, then 200 ms later sends a second, unrequested response on the now idle pooled
     * connection: the next request on that connection used to get {@code EVIL}. Bytes on an idle pooled connection
     * mean it is broken: it is closed and counted, and the next request goes out on a fresh one.
     */
    @Test
    void lateSurplusOnAnIdlePooledConnection_neverAnswersTheNextRequest() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> {
                if (x.conn == 0 && x.index == 0) {
                    x.ok("hello");
                    Thread.sleep(200);
                    x.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL");
                } else {
                    x.ok("fine" + x.index);
                }
            });
                Fixture f = new Fixture(origin.config("sluice.event-loops = 1"), "unused");
                TestClient c = f.client()) {
            assertEquals("hello", c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n").read().bodyText());
            Await.until("the surplus seen on the idle pooled connection", () -> f.sluice.registry()
                    .get("sluice.upstream.surplus").tag("upstream", "origin").counter().count() >= 1);
            for (int i = 0; i < 3; i++) {
                String body = c.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n").read().bodyText();
                assertFalse(body.contains("EVIL"), "request " + i + " was answered by the surplus");
            }
            assertEquals(2, origin.connections(), "the connection that sent surplus bytes must not be reused");
            assertEquals(1.0, f.sluice.registry().get("sluice.upstream.surplus").tag("upstream", "origin")
                    .counter().count(), "the broken pooled connection is counted");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP/1.1 2000 OK", "HTTP/1.1 999 Huh", "HTTP/1.1 600 Nope", "HTTP/1.1 099 Low",
            "HTTP/1.1 20 Short", "HTTP/1.1 200OK"})
    void upstreamStatusOutsideTheRange_gives502(String statusLine) throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.send(statusLine + "\r\nContent-Length: 2\r\n\r\nok"));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            TestClient.Response r = c.send("GET /s HTTP/1.1\r\nHost: h\r\n\r\n").read();
            assertEquals(502, r.status, statusLine + " -> " + r);
        }
    }

    /**
     * A response with both Content-Length and Transfer-Encoding: RFC 9112 6.3 lets a proxy forward it with the length
     * removed, but two readers can frame it differently (and a cache must not keep it): 502, and the connection goes.
     */
    @Test
    void upstreamContentLengthAndTransferEncoding_gives502() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> x.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            assertEquals(502, c.send("GET /both HTTP/1.1\r\nHost: h\r\n\r\n").read().status);
            assertEquals(502, c.send("GET /both HTTP/1.1\r\nHost: h\r\n\r\n").read().status);
            assertEquals(2, origin.connections(), "the connection of a response framed two ways is not reused");
        }
    }

    /** Interim responses are relayed, but not without end: an origin that sends thousands gets 502. */
    @Test
    void endlessInterimResponses_areCut() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < 5000; i++) {
                    b.append("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
                }
                x.send(b + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            });
                Fixture f = new Fixture(origin.config(""), "unused");
                TestClient c = f.client()) {
            c.send("GET /hints HTTP/1.1\r\nHost: h\r\n\r\n");
            int interim = 0;
            TestClient.Response r;
            while ((r = c.readHeadOnly()).status < 200) {
                interim++;
            }
            assertEquals(502, r.status, r.toString());
            assertTrue(interim > 0 && interim <= Exchange.MAX_INTERIM_RESPONSES, interim + " interim responses relayed");
        }
    }

    /**
     * A GET sent on a pooled connection the origin had closed is sent again on a fresh one, with the same head: the
     * forwarding fields are added once per request, not once per attempt (X-Forwarded-For named the client twice).
     */
    @Test
    void aRequestSentAgainOnAFreshConnection_carriesTheForwardingFieldsOnce() throws Exception {
        try (RawOrigin origin = new RawOrigin(x -> {
                    if (x.conn == 0 && x.index == 1) {
                        x.socket.close(); // closed as the second request arrived: nothing answered
                    } else {
                        x.ok("ok " + x.conn);
                    }
                });
                Fixture f = new Fixture(origin.config("sluice.event-loops = 1"), "unused");
                TestClient c = f.client()) {
            assertEquals("ok 0", c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n").read().bodyText());
            assertEquals("ok 1", c.send("GET /b HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n")
                    .read().bodyText());
            assertEquals(3, origin.heads.size(), origin.heads.toString());
            String again = origin.heads.get(2);
            assertEquals(origin.heads.get(1), again, "the head sent again is the head sent first");
            assertEquals("192.0.2.7, 127.0.0.1", RawOrigin.header(again, "X-Forwarded-For"), again);
            assertEquals("1.1 sluice", RawOrigin.header(again, "Via"), again);
        }
    }
}
