package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Origin;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 256 MiB each way through a separate proxy JVM limited to a 32 MiB heap and 32 MiB of direct
 * memory: a proxy that aggregated bodies would die; one that streams passes, byte-exact.
 */
class LargeBodyTest {
    private static final long SIZE = 256L << 20;
    private static final Pattern LISTENING = Pattern.compile("listener http on 127\\.0\\.0\\.1:(\\d+)");

    @Test
    void body256MiB_throughSmallHeapProxy_isByteExactBothWays(@TempDir Path dir) throws Exception {
        try (Origin origin = Origin.builder().name("big").cacheBytes(0).build()) {
            Path conf = dir.resolve("sluice.conf");
            Files.writeString(conf, """
                    sluice {
                      event-loops = 1
                      listeners = [ { name = http, address = "127.0.0.1:0" } ]
                      upstreams { origin { servers = ["127.0.0.1:%d"] } }
                      routes = [ { upstream = origin } ]
                      admin.enabled = false
                      access-log.enabled = false
                    }
                    """.formatted(origin.port()));
            String java = ProcessHandle.current().info().command().orElse("java");
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx32m", "-XX:MaxDirectMemorySize=32m",
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    "dev.sluice.proxy.Main", "run", conf.toString()));
            Process proxy = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            try {
                int port = awaitPort(proxy);
                try (TestClient c = new TestClient(port)) {
                    TestClient.Response r = c.send("GET /big?size=256m HTTP/1.1\r\nHost: t\r\n\r\n").read(false, "/big", 0);
                    assertEquals(200, r.status);
                    assertEquals(SIZE, r.bodyLength);
                    assertEquals(-1, r.firstMismatch, "wrong byte at " + r.firstMismatch);
                    assertFalse(r.truncated);

                    c.send("PUT /big-up?size=256m HTTP/1.1\r\nHost: t\r\nContent-Length: " + SIZE + "\r\n\r\n")
                            .sendPayload("/big-up", 0, SIZE);
                    TestClient.Response p = c.read();
                    assertEquals(201, p.status, p.toString());
                    assertEquals(String.valueOf(SIZE), p.header("X-Received-Bytes"));
                    assertEquals("ok", p.header("X-Body-Verified"));
                }
                assertTrue(proxy.isAlive(), "the proxy JVM must survive (no OutOfMemoryError)");
            } finally {
                proxy.destroy();
                if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                    proxy.destroyForcibly();
                }
            }
        }
    }

    /** Reads the proxy's log until it names its port; keeps draining it afterwards so it never blocks. */
    private static int awaitPort(Process p) throws Exception {
        CompletableFuture<Integer> port = new CompletableFuture<>();
        StringBuilder seen = new StringBuilder();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (seen) {
                        seen.append(line).append('\n');
                    }
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (Exception ignored) {
                // process ended
            }
            port.completeExceptionally(new AssertionError("proxy exited before listening:\n" + seen));
        });
        Integer value = port.get(60, TimeUnit.SECONDS);
        assertNotNull(value);
        return value;
    }
}
