package dev.sluice.proxy;

import static dev.sluice.proxy.AdminCacheApiTest.cli;
import static dev.sluice.proxy.CacheTest.get;
import static dev.sluice.proxy.CacheTest.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sluice admin warm|jobs|cancel} against a real Sluice: progress lines (no terminal here), exit statuses. */
class WarmCliTest {
    @Test
    void warmWait_printsProgressAndTheSummary_andExitsByWhetherAKeyFailed(@TempDir Path dir) throws Exception {
        try (Fixture f = AdminCacheApiTest.fixture("")) {
            String admin = "127.0.0.1:" + f.sluice.adminAddress().getPort();
            Path list = dir.resolve("keys.txt");
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 8; i++) {
                b.append("/objects/cli").append(i).append(".bin?size=300k&cc=max-age%3D600&delay=300\n");
            }
            Files.writeString(list, b);
            String[] r = cli(0, "warm", list.toString(), "--wait", "--host", "test", "--concurrency", "2",
                    "--admin", admin);
            assertTrue(r[0].contains("warm job 1: "), "a plain progress line (not a terminal): " + r[0]);
            assertTrue(r[0].contains("warm job 1 done after") && r[0].contains("8 of 8 keys done (8 cached"), r[0]);
            assertEquals(8, f.upstreamRequests());
            for (int i = 0; i < 8; i++) {
                assertTrue(status(get(f, "/objects/cli" + i + ".bin?size=300k&cc=max-age%3D600&delay=300"))
                        .startsWith("sluice; hit"));
            }

            Files.writeString(list, "/objects/ok.bin?size=1k&cc=max-age%3D600\n/objects/bad?size=1k&status=500\n");
            r = cli(1, "warm", list.toString(), "--wait", "--host", "test", "--admin", admin);
            assertTrue(r[0].contains("1 failed") && r[0].contains("/objects/bad?size=1k&status=500: HTTP 500"), r[0]);

            Files.writeString(list, "/objects/ok.bin?size=1k&cc=max-age%3D600\n");
            r = cli(0, "warm", list.toString(), "--wait", "--json", "--host", "test", "--admin", admin);
            assertEquals(1, r[0].strip().lines().count(), "one JSON line, the job at its end: " + r[0]);
            assertTrue(r[0].contains("\"state\":\"done\"") && r[0].contains("\"skipped\":1"), r[0]);
            Files.writeString(list, "/objects/ok.bin?size=1k&cc=max-age%3D600\n/objects/bad?size=1k&status=500\n");

            r = cli(0, "jobs", "--admin", admin);
            assertTrue(r[0].startsWith("1  done  8 of 8 keys done"), r[0]);
            assertTrue(r[0].contains("\n2  done  2 of 2 keys done"), r[0]);
            assertTrue(r[0].contains("\n3  done  1 of 1 keys done"), r[0]);
            r = cli(0, "jobs", "2", "--admin", admin);
            assertTrue(r[0].contains("last failures:"), r[0]);
            assertTrue(cli(1, "jobs", "9", "--admin", admin)[1].contains("no warm job 9"));

            Files.writeString(list, "/objects/slow.bin?size=1k&cc=max-age%3D600&delay=5000\n");
            r = cli(0, "warm", list.toString(), "--host", "test", "--admin", admin);
            assertTrue(r[0].startsWith("warm job 4 started"), r[0]);
            r = cli(0, "cancel", "4", "--admin", admin);
            assertTrue(r[0].startsWith("warm job 4 cancelled"), r[0]);

            r = cli(1, "warm", dir.resolve("missing").toString(), "--admin", admin);
            assertTrue(r[1].contains("cannot read"), r[1]);
            r = cli(1, "warm", "s3://b/p", "--admin", admin);
            assertTrue(r[1].contains("--route"), r[1]);
        }
    }
}
