package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.loadtest.Origin;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A second Sluice on an address the first one listens on must not start: with SO_REUSEPORT on both, the kernel would
 * otherwise let it bind and spread the first one's connections over both.
 */
class ListenerConflictTest {
    private static String conf(String transport, String address, String admin, int originPort) {
        return """
                sluice {
                  buffer-leak-detection = paranoid
                  transport = %s
                  event-loops = 2
                  listeners = [ { name = http, address = "%s" } ]
                  upstreams { origin { servers = ["127.0.0.1:%d"] } }
                  routes = [ { upstream = origin } ]
                  admin.address = "%s"
                  access-log.enabled = false
                }
                """.formatted(transport, address, originPort, admin);
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void secondSluiceOnTheSamePort_refusesToStart_firstKeepsEveryConnection(String transport) throws Exception {
        try (Fixture first = new Fixture(Fixture.simple("sluice.transport = " + transport), "first-" + transport);
                Origin other = Origin.builder().name("second-" + transport).build()) {
            int port = first.port();
            SluiceConfig second = ConfigLoader.parse(conf(transport, "127.0.0.1:" + port, "127.0.0.1:0", other.port()),
                    "second.conf");
            Exception refused = null;
            Sluice started = null;
            try {
                started = Sluice.start(second);
            } catch (Exception e) {
                refused = e;
            }
            int requests = 100;
            try {
                for (int i = 0; i < requests; i++) {
                    try (TestClient c = first.client()) { // a new connection each time: the kernel picks a socket per connection
                        assertEquals(200, c.send("GET /c/" + i + "?size=10 HTTP/1.1\r\nHost: t\r\n\r\n").read().status);
                    }
                }
            } finally {
                if (started != null) {
                    started.close();
                }
            }
            assertEquals(0, other.requestsReceived(), "requests that went to the second Sluice");
            assertEquals(requests, first.origin(0).requestsReceived());
            assertNotNull(refused, "the second Sluice started on port " + port);
            assertInstanceOf(StartException.class, refused, refused.toString());
            assertEquals("listener http: 127.0.0.1:" + port + " is already in use by another process", refused.getMessage());
        }
    }

    /** From the command line: exit status 1 and one line naming the listener and the address, no stack trace. */
    @Test
    void run_listenerAddressInUse_exitsOneWithOneLine(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            String address = "127.0.0.1:" + taken.getLocalPort();
            Path f = dir.resolve("taken.conf");
            Files.writeString(f, conf("auto", address, "127.0.0.1:0", 1).replace("paranoid", "disabled"));
            assertEquals("sluice: cannot start: listener http: " + address + " is already in use by another process",
                    runMain(f));

            Path a = dir.resolve("admin.conf");
            Files.writeString(a, conf("auto", "127.0.0.1:0", address, 1).replace("paranoid", "disabled"));
            assertEquals("sluice: cannot start: admin listener: " + address + " is already in use by another process", runMain(a));
        }
    }

    /** Main's standard error; it must have exited 1 with a single line. */
    private static String runMain(Path conf) throws Exception {
        // the log's console handler takes System.err when first made: make it now, so its lines stay out of err
        java.util.logging.Logger.getLogger("").getHandlers();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.run(new String[] {"run", conf.toString()});
        } finally {
            System.setErr(old);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, status, text);
        assertTrue(text.endsWith("\n") && text.indexOf('\n') == text.length() - 1, "one line: " + text);
        return text.strip();
    }
}
