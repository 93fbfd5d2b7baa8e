package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MainTest {
    private static int run(ByteArrayOutputStream err, String... args) throws Exception {
        return run(new ByteArrayOutputStream(), err, args);
    }

    private static int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) throws Exception {
        PrintStream oldErr = System.err;
        PrintStream oldOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            return Main.run(args);
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
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
    void run_withoutTheWordRun_takesTheFileToo(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("typo.conf");
        Files.writeString(f, "sluice { listners = [] }\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, run(err, f.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("sluice.listners: unknown key"), err.toString(StandardCharsets.UTF_8));
    }

    @ParameterizedTest(name = "sluice {0}")
    @ValueSource(strings = {"check-config", "--bogus", "a.conf b.conf", "run a.conf b.conf", "check-config a b",
            "run --bogus", "frobnicate x"})
    void usage_wrongArguments_exitsTwo(String args) throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, args.split(" ")));
        // picocli says what is wrong, then the usage or a suggestion
        assertFalse(err.toString(StandardCharsets.UTF_8).isBlank());
    }

    @ParameterizedTest(name = "sluice {0}")
    @ValueSource(strings = {"help", "--help", "-h"})
    void help_printsUsageAndExitsZero(String arg) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, run(out, new ByteArrayOutputStream(), arg));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("Usage: sluice") && text.contains("check-config") && text.contains("run"), text);
    }

    @Test
    void version_isTheProjectVersion() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, run(out, new ByteArrayOutputStream(), "--version"));
        // the pom's version, filled in by the build; surefire runs in the module directory
        String pom = Files.readString(Path.of("pom.xml"));
        String version = pom.substring(pom.indexOf("<version>") + 9, pom.indexOf("</version>"));
        assertEquals("sluice " + version, out.toString(StandardCharsets.UTF_8).strip());
        for (String[] sub : new String[][] {{"run", "-V"}, {"admin", "--version"}, {"admin", "stats", "-V"}}) {
            ByteArrayOutputStream subOut = new ByteArrayOutputStream();
            assertEquals(0, run(subOut, new ByteArrayOutputStream(), sub), String.join(" ", sub));
            assertEquals("sluice " + version, subOut.toString(StandardCharsets.UTF_8).strip(), String.join(" ", sub));
        }
    }
}
