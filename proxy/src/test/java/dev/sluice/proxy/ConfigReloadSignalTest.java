package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.loadtest.Origin;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real SIGHUP, sent with kill(1) to {@code sluice run FILE} in a JVM of its own (sent to the test JVM, it would reach
 * whatever handler that JVM has, or end it): Sluice reloads FILE and goes on running, and an invalid file changes
 * nothing. The handler's method itself is tested in this JVM by {@link ConfigReloadTest#theHangupHandlerReloads}.
 */
class ConfigReloadSignalTest {
    @Test
    void sighupReloadsTheFileAndSluiceGoesOn(@TempDir Path dir) throws Exception {
        try (Origin one = Origin.builder().name("one").build(); Origin two = Origin.builder().name("two").build()) {
            Path conf = dir.resolve("sluice.conf");
            String text = String.format(ConfigReloadTest.TEMPLATE, one.port(), two.port(), ConfigReloadTest.MAIN_TO_ONE,
                    "").replace("buffer-leak-detection = paranoid", "");
            Files.writeString(conf, text);
            try (ChildSluice sluice = new ChildSluice(conf, 4096, dir)) {
                sluice.check(() -> {
                    assertEquals("one", origin(sluice, "/a.bin"));

                    Files.writeString(conf, text.replace("upstream = one", "upstream = two"));
                    hangup(sluice);
                    sluice.awaitLine(Pattern.compile("config reload \\(SIGHUP\\) of .*sluice\\.conf: generation 2 applied:"
                            + " routes\\.main\\.upstream: one -> two"), 20);
                    assertEquals("two", origin(sluice, "/b.bin"));

                    Files.writeString(conf, text.replace("upstream = one", "upstream = nosuch"));
                    hangup(sluice);
                    sluice.awaitLine(Pattern.compile("config reload \\(SIGHUP\\) of .*sluice\\.conf refused, nothing"
                            + " changed: 1 problem\\(s\\), the first: .*sluice\\.conf:\\d+: .*nosuch"), 20);
                    assertEquals("two", origin(sluice, "/c.bin"));
                    assertTrue(sluice.process.isAlive(), "SIGHUP did not end Sluice");
                    assertEquals(1.0, sluice.metric("sluice_config_reloads_total{result=\"applied\"}"));
                    assertEquals(1.0, sluice.metric("sluice_config_reloads_total{result=\"invalid\"}"));
                });
            }
        }
    }

    private static void hangup(ChildSluice sluice) throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(sluice.process.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -HUP failed");
    }

    private static String origin(ChildSluice sluice, String target) throws Exception {
        try (TestClient c = new TestClient(sluice.port)) {
            TestClient.Response r = CacheTest.get(c, target);
            assertEquals(200, r.status, r::toString);
            return r.header("X-Origin");
        }
    }
}
