package dev.sluice.loadtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ProcCpuTest {
    private static final long SELF = ProcessHandle.current().pid();

    @Test
    void userSystemTicks_computeThenSyscalls_eachLandsInItsOwnField() throws IOException {
        long hz = ProcCpu.clockTicksPerSecond();
        long[] a = ProcCpu.userSystemTicks(SELF);
        assertNotNull(a);
        // ~300 ms of pure computation: user time. Phases are timed by this thread's own CPU time, not the wall
        // clock, so that a busy machine (other builds on the 2 cores) lengthens them instead of starving them.
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long x = 0;
        for (long end = cpu.getCurrentThreadUserTime() + 300_000_000L; cpu.getCurrentThreadUserTime() < end; ) {
            for (int i = 0; i < 2_000_000; i++) { // a few ms: reading the thread's CPU clock is itself a system call
                x = x * 6364136223846793005L + 1442695040888963407L;
            }
        }
        long[] b = ProcCpu.userSystemTicks(SELF);
        // ~300 ms of system calls that do work in the kernel: system time
        Path f = Files.createTempFile("proccpu", ".bin");
        try {
            byte[] chunk = new byte[1 << 20];
            long startSys = cpu.getCurrentThreadCpuTime() - cpu.getCurrentThreadUserTime();
            while (cpu.getCurrentThreadCpuTime() - cpu.getCurrentThreadUserTime() - startSys < 300_000_000L) {
                Files.write(f, chunk);
                x += Files.readAllBytes(f).length;
            }
        } finally {
            Files.deleteIfExists(f);
        }
        long[] c = ProcCpu.userSystemTicks(SELF);
        assertTrue(x != 42);
        String seen = "user " + a[0] + " -> " + b[0] + " -> " + c[0] + ", system " + a[1] + " -> " + b[1] + " -> " + c[1];
        // at least a third of each phase shows up where it belongs (the JVM's other threads add a little)
        assertTrue(b[0] - a[0] >= hz / 10, seen);
        assertTrue(c[1] - b[1] >= hz / 10, seen);
        assertTrue(b[1] - a[1] < b[0] - a[0], seen);
        long sum = ProcCpu.ticks(SELF);
        assertTrue(sum >= c[0] + c[1], sum + " < " + (c[0] + c[1]));
    }

    @Test
    void ticks_noSuchProcess_unreadable() {
        long pid = Integer.MAX_VALUE; // above pid_max
        assertNull(ProcCpu.userSystemTicks(pid));
        assertEquals(-1, ProcCpu.ticks(pid));
    }
}
