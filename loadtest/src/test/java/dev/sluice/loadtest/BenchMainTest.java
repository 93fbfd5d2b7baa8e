package dev.sluice.loadtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class BenchMainTest {
    @Test
    void median_oddEvenAndNaN_middleValue() {
        assertEquals(2.0, BenchMain.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, BenchMain.median(List.of(4.0, 1.0, 2.0, 3.0)));
        assertEquals(1.0, BenchMain.median(List.of(Double.NaN, 1.0)));
        assertTrue(Double.isNaN(BenchMain.median(List.of())));
    }

    @Test
    void target_withAndWithoutPid_parsed() {
        assertEquals(new BenchMain.Target("nginx", "127.0.0.1", 18081, 42),
                BenchMain.target("nginx=127.0.0.1:18081@42"));
        assertEquals(new BenchMain.Target("x", "localhost", 1, 0), BenchMain.target("x=localhost:1"));
    }

    @Test
    void run_twoTargets_writesRunsSummaryAndRatios(@TempDir Path out) throws Exception {
        try (Origin a = Origin.builder().name("a").build(); Origin b = Origin.builder().name("b").build()) {
            long self = ProcessHandle.current().pid();
            int rc = BenchMain.run(new String[] {"--out", out.toString(), "--reps", "2", "--duration", "200ms",
                "--warmup", "0s", "--workloads", "D,B", "--target", "sluice=127.0.0.1:" + a.port() + "@" + self,
                "--target", "peer=127.0.0.1:" + b.port()});
            assertEquals(0, rc);
            List<String> runs = Files.readAllLines(out.resolve("runs.csv"));
            assertEquals(1 + 2 * 2 * 2, runs.size(), String.join("\n", runs));
            String md = Files.readString(out.resolve("summary.md"));
            assertTrue(md.contains("| D 1 KiB cache hits, 64 conns | sluice |"), md);
            assertTrue(md.contains("relative to the best peer"), md);
            assertTrue(md.contains("| B | "), md);
            // machine CPU per GiB, from /proc/stat: positive, and not below the target's own share of it
            // (both are counted in 10 ms ticks over 200 ms windows: allow 20%)
            for (String row : Files.readAllLines(out.resolve("summary.csv")).subList(1, 5)) {
                String[] c = row.split(",");
                double own = Double.parseDouble(c[6]);
                double machine = Double.parseDouble(c[8]);
                assertTrue(machine > 0 && (Double.isNaN(own) || machine >= own * 0.8), row);
                // the kernel's share of the target's CPU: a fraction where the target's CPU was read
                double kernel = Double.parseDouble(c[11]);
                assertTrue(Double.isNaN(own) ? Double.isNaN(kernel) : kernel >= 0 && kernel <= 1, row);
            }
            assertTrue(md.contains("| CPU us/req | kernel |"), md);
            assertTrue(Files.readString(out.resolve("chart.gp")).contains("chart-reqs.dat"));
            String[] dRow = Files.readAllLines(out.resolve("chart-reqs.dat")).get(1).split(" ");
            assertEquals("D", dRow[0]);
            assertTrue(Arrays.stream(dRow).skip(1).mapToDouble(Double::parseDouble).allMatch(v -> v > 0));
        }
    }

    @Test
    void workloadF_uniquePathsNeverRepeat_acrossRunsOfOneJvm() {
        BenchMain.Workload f = BenchMain.WORKLOADS.get("F");
        assertTrue(f.unique() && f.prefix().equals("/hit") && f.query().contains("max-age"), f.toString());
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int run = 0; run < 3; run++) {
            Workload w = Workload.sizes(f.sizes(), f.prefix(), f.query(), true, null);
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
            for (int conn = 0; conn < 4; conn++) {
                for (long seq = 0; seq < 50; seq++) {
                    Workload.Spec spec = w.next(rnd, conn, seq);
                    String path = spec.target().substring(0, spec.target().indexOf('?'));
                    assertTrue(seen.add(path), "repeated: " + path);
                    assertTrue(path.startsWith("/hit/1m/u"), path);
                    assertEquals(Payload.seed(path), spec.seed()); // bytes still derive from the path as sent
                    assertEquals(1L << 20, spec.length());
                }
            }
        }
    }

    @Test
    void run_withOrigin_countsOriginRequestsPerClientRequest(@TempDir Path out) throws Exception {
        try (Origin o = Origin.builder().name("o").build()) {
            // the origin itself as the target: every request reaches it once (1.000), as for a miss or a pass
            int rc = BenchMain.run(new String[] {"--out", out.toString(), "--reps", "1", "--duration", "200ms",
                "--warmup", "0s", "--workloads", "F,D", "--origin", "127.0.0.1:" + o.port(),
                "--target", "plain=127.0.0.1:" + o.port()});
            assertEquals(0, rc);
            // fills run after the other workloads, so their stores cannot evict what the hit rows measure
            List<String> runs = Files.readAllLines(out.resolve("runs.csv"));
            assertTrue(runs.get(1).startsWith("1,D,plain,") && runs.get(2).startsWith("1,F,plain,"), runs.toString());
            String md = Files.readString(out.resolve("summary.md"));
            assertTrue(md.contains("| 1.000 (origin each) |"), md);
            String[] row = Files.readAllLines(out.resolve("summary.csv")).get(1).split(",");
            assertEquals("F", row[0]);
            assertEquals(1.0, Double.parseDouble(row[12]), 0.0001);
        }
        assertEquals("0.000 (hits)", BenchMain.served(0));
        assertEquals("0.500 (mixed)", BenchMain.served(0.5));
        assertEquals("-", BenchMain.served(Double.NaN));
    }

    @Test
    void run_targetServingWrongBytes_exit1() throws Exception {
        Relay.Tamper flip = (pos, buf, n) -> {
            if (pos <= 500 && 500 < pos + n) {
                buf[(int) (500 - pos)] ^= 1;
            }
            return n;
        };
        try (Origin o = Origin.builder().build(); Relay bad = new Relay(o.port(), Relay.NONE, flip)) {
            Path out = Files.createTempDirectory("bench");
            int rc = BenchMain.run(new String[] {"--out", out.toString(), "--reps", "1", "--duration", "100ms",
                "--warmup", "0s", "--workloads", "B", "--target", "bad=127.0.0.1:" + bad.port()});
            assertEquals(1, rc);
        }
    }
}
