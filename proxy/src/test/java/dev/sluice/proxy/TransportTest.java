package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The same traffic on each transport, chosen by configuration: io_uring, its epoll fallback, and NIO. */
class TransportTest {
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void transport_selectedByConfig_servesByteExactBodiesBothWays(String transport) throws Exception {
        try (Fixture f = new Fixture(Fixture.simple("sluice.transport = " + transport), "t-" + transport)) {
            assertEquals(transport, f.sluice.transport());
            try (TestClient c = f.client()) {
                for (long size : new long[] {0, 1, 65536, 1048577}) {
                    String path = "/t/" + transport + "/" + size;
                    TestClient.Response r = c.send("GET " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\n\r\n")
                            .read(false, path, 0);
                    assertEquals(200, r.status);
                    assertEquals(size, r.bodyLength);
                    assertEquals(-1, r.firstMismatch);
                    c.send("PUT " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + size + "\r\n\r\n")
                            .sendPayload(path, 0, size);
                    TestClient.Response p = c.read();
                    assertEquals("ok", p.header("X-Body-Verified"), p.toString());
                }
            }
            assertEquals(1, f.origin(0).connectionsAccepted());
        } catch (IOException e) {
            throw new AssertionError(transport, e);
        }
    }
}
