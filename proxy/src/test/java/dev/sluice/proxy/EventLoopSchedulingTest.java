package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.concurrent.EventExecutor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * event-loop-scheduling, observed by the kernel: each loop thread reads its own policy from /proc/thread-self/stat
 * (field 41), and the loops still serve byte-exact spliced and copied bodies under it.
 */
class EventLoopSchedulingTest {
    /** Field 41 (policy) of /proc/thread-self/stat, read on the calling thread. */
    private static int policyOfThisThread() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"), StandardCharsets.US_ASCII);
            String[] after = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            return Integer.parseInt(after[41 - 3]);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @CsvSource({"batch, 3", "normal, 0"})
    void loopThreads_runUnderTheConfiguredPolicy_andServeExactBytes(String scheduling, int policy) throws Exception {
        String hocon = Fixture.simple("sluice.event-loop-scheduling = " + scheduling + "\n");
        try (Fixture f = new Fixture(hocon, "s"); TestClient c = f.client()) {
            List<Integer> seen = new ArrayList<>();
            for (EventExecutor loop : f.sluice.eventLoops()) {
                seen.add(loop.submit(EventLoopSchedulingTest::policyOfThisThread).get(10, TimeUnit.SECONDS));
            }
            assertEquals(List.of(policy, policy), seen, "policy of each loop thread (SCHED_OTHER 0, SCHED_BATCH 3)");
            assertEquals(0, policyOfThisThread(), "the test thread itself is untouched");
            for (String size : new String[] {"0", "4095", "1048577", "65536"}) {
                String path = "/s/" + scheduling + "-" + size;
                TestClient.Response r = c.send("GET " + path + "?size=" + size + " HTTP/1.1\r\nHost: t\r\n\r\n")
                        .read(false, path, 0);
                assertEquals(200, r.status, path);
                assertEquals(Long.parseLong(size), r.bodyLength, path);
                assertEquals(-1, r.firstMismatch, path);
            }
            double batch = f.sluice.registry().get("sluice.event.loops").tag("scheduling", "batch").gauge().value();
            double normal = f.sluice.registry().get("sluice.event.loops").tag("scheduling", "normal").gauge().value();
            assertEquals(policy == 3 ? 2 : 0, (int) batch);
            assertEquals(policy == 3 ? 0 : 2, (int) normal);
            assertTrue(f.sluice.registry().scrape().contains("sluice_event_loops{scheduling=\"" + scheduling + "\"} 2"));
        }
    }
}
