package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    private static int run(ByteArrayOutputStream err, String... args) throws Exception {
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return Main.run(args);
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void checkConfig_validExample_exitsZero() throws Exception {
        assertEquals(0, run(new ByteArrayOutputStream(), "check-config", "../conf/examples/s3-object-store.conf"));
        assertEquals(0, run(new ByteArrayOutputStream(), "check-config", "../conf/examples/several-routes.conf"));
    }

    @Test
    void checkConfig_badFile_exitsOneAndNamesFileLineKey(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(f, "sluice {\n  upstreams { a { servers = [\"127.0.0.1:1\"] } }\n  routes = [ { upstream = b } ]\n}\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, run(err, "check-config", f.toString()));
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains(f + ":3: sluice.routes[0].upstream: no upstream group named 'b'"), text);
    }

    @Test
    void run_badConfig_exitsNonZeroWithoutStarting(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("typo.conf");
        Files.writeString(f, "sluice { listners = [] }\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, run(err, "run", f.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("typo.conf:1: sluice.listners: unknown key (did you mean 'listeners'?)"),
                err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void usage_wrongArguments_exitsTwo() throws Exception {
        assertEquals(2, run(new ByteArrayOutputStream(), "check-config"));
        assertEquals(2, run(new ByteArrayOutputStream(), "--bogus"));
    }
}
