package dev.sluice.loadtest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** CPU time (user + system, this process's threads only, not children) from /proc/PID/stat. */
final class ProcCpu {
    private static final long CLK_TCK = clockTicks();

    private ProcCpu() {}

    /** utime + stime of a process in clock ticks, or -1 if it cannot be read (gone, not Linux). */
    static long ticks(long pid) {
        long[] us = userSystemTicks(pid);
        return us == null ? -1 : us[0] + us[1];
    }

    /**
     * {utime, stime} of a process in clock ticks, or null if it cannot be read. stime includes the kernel work a
     * process does for others while it runs (on loopback: its peers' TCP receive and ACK processing, softirqs).
     */
    static long[] userSystemTicks(long pid) {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"), StandardCharsets.ISO_8859_1);
            // comm (field 2) may contain spaces and parentheses: fields 3.. start after the last ')'
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12])}; // fields 14 (utime) and 15 (stime)
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Busy time of the whole machine in clock ticks (the first line of /proc/stat: user, nice, system, irq, softirq
     * and steal; not idle or iowait), or -1 if it cannot be read. On loopback a receiver's TCP work runs in its
     * sender's context, so a proxy's read pattern moves kernel work between itself, its origin and its client; the
     * machine's busy time is what no such shift can hide.
     */
    static long machineBusyTicks() {
        try {
            String s = Files.readString(Path.of("/proc/stat"), StandardCharsets.ISO_8859_1);
            String[] f = s.substring(0, s.indexOf('\n')).trim().split("\\s+");
            if (!f[0].equals("cpu")) {
                return -1;
            }
            long busy = 0;
            for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
                busy += Long.parseLong(f[i]);
            }
            return busy;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    static long selfTicks() {
        return ticks(ProcessHandle.current().pid());
    }

    static double seconds(long ticks) {
        return (double) ticks / CLK_TCK;
    }

    static long clockTicksPerSecond() {
        return CLK_TCK;
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
            p.waitFor();
            long v = Long.parseLong(out);
            return v > 0 ? v : 100;
        } catch (IOException | RuntimeException e) {
            return 100;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 100;
        }
    }
}
