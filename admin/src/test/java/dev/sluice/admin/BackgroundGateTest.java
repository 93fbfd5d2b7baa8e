package dev.sluice.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** When background warm fetches may start: clients, the CPU read through {@link CpuLoad}, the ramp, the cap. */
class BackgroundGateTest {
    /** A CPU whose reading the test sets, on a clock the test moves. */
    private final AtomicLong nanos = new AtomicLong();
    private volatile double load;
    private final CpuLoad cpu = new CpuLoad(() -> load, nanos::get);
    private final AtomicInteger clients = new AtomicInteger();

    private void nextSample(double l) {
        load = l;
        nanos.addAndGet(CpuLoad.SAMPLE_NANOS);
    }

    /** Fetches started until the gate says wait; its answer. */
    private static String startAll(BackgroundGate g, int[] started) {
        String why;
        while ((why = g.tryStart()) == null) {
            started[0]++;
        }
        return why;
    }

    @Test
    void aBusyCpuHoldsFetches_thenTheyRampUpDoublingPerQuietReading_toTheCap() {
        BackgroundGate g = new BackgroundGate(clients::get, cpu, 80, 16);
        nextSample(0.95);
        String why = g.tryStart();
        assertTrue(why != null && why.equals("CPU at 95% (cache.warm.max-cpu-percent = 80)"), why);
        assertEquals(0, g.inFlight());
        nextSample(0.79);
        int[] started = {0};
        assertTrue(startAll(g, started).startsWith("ramping up after a busy CPU (2 at once)"));
        assertEquals(2, started[0], "the first quiet reading lets two start, not all of them");
        assertTrue(g.tryStart().startsWith("ramping up"), "no new reading: still two");
        for (int expected : new int[] {4, 8, 16}) {
            nextSample(0.5);
            startAll(g, started);
            assertEquals(expected, g.inFlight());
        }
        nextSample(0.5);
        assertEquals(BackgroundGate.IN_FLIGHT_CAP, g.tryStart(), "at max-in-flight the cap holds, not the ramp");
        g.done();
        assertNull(g.tryStart(), "a place given back is taken again");
        nextSample(0.85);
        assertTrue(g.tryStart().startsWith("CPU at 85%"));
        for (int i = 0; i < 16; i++) {
            g.done();
        }
        nextSample(0.1);
        assertEquals(2, startAll(g, new int[1]) != null ? g.inFlight() : -1, "busy again: the ramp starts over");
    }

    @Test
    void clientsWaitingForUpstreams_holdFetches_whateverTheCpu() {
        BackgroundGate g = new BackgroundGate(clients::get, cpu, 100, 4);
        clients.set(1);
        assertEquals("clients waiting for upstreams", g.tryStart());
        clients.set(0);
        int[] started = {0};
        assertEquals(BackgroundGate.IN_FLIGHT_CAP, startAll(g, started));
        assertEquals(4, started[0], "max-cpu-percent = 100: no CPU wait and no ramp, only the cap");
    }

    @Test
    void anUnknownCpu_waitsForClientsOnly_butZeroStillHolds() {
        load = -1;
        nextSample(-1);
        BackgroundGate g = new BackgroundGate(clients::get, cpu, 80, 4);
        int[] started = {0};
        assertEquals(BackgroundGate.IN_FLIGHT_CAP, startAll(g, started));
        assertEquals(4, started[0]);
        BackgroundGate held = new BackgroundGate(clients::get, cpu, 0, 4);
        assertTrue(held.tryStart().startsWith("CPU at -1%"), "0 holds background jobs even when the CPU is unknown");
    }
}
