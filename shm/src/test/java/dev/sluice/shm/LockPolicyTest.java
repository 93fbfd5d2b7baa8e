package dev.sluice.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * mlock policy behaviour against the real kernel. To make mlock refuse even when the tests run as root, the building
 * thread drops CAP_IPC_LOCK (capabilities are per thread) and the segment is made larger than RLIMIT_MEMLOCK (the soft
 * limit is lowered for the duration of a test only if it is unlimited).
 */
class LockPolicyTest {
    private static final long MIB = 1 << 20;

    @Test
    void fromLabel_lowercaseNames_roundTrip() {
        for (LockPolicy p : LockPolicy.values()) {
            assertSame(p, LockPolicy.fromLabel(p.label()));
            assertEquals(p.label(), p.toString());
        }
        assertSame(LockPolicy.TRY, LockPolicy.fromLabel(" Try "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LockPolicy.fromLabel("on"));
        assertTrue(e.getMessage().contains("'on'") && e.getMessage().contains("required, try or off"));
    }

    @Test
    void build_off_neverLocks() {
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(2 * MIB).loops(2).lockPolicy(LockPolicy.OFF)
                .build()) {
            StoreStats s = segments.stats();
            assertEquals(0, s.lockedBytes());
            assertEquals(0, s.lockFailures());
        }
    }

    @Test
    void build_requiredWithinLimit_locksEveryByte() throws IOException {
        long before = vmLockedKib();
        Segments built;
        try {
            built = ShmBuilder.newBuilder().totalBytes(2 * MIB).loops(2).lockPolicy(LockPolicy.REQUIRED).build();
        } catch (ShmException e) {
            assumeTrue(false, "this machine refuses to lock 2 MiB: " + e.getMessage());
            return;
        }
        try (Segments segments = built) {
            StoreStats s = segments.stats();
            assertEquals(2 * MIB, s.lockedBytes());
            assertEquals(0, s.lockFailures());
            assertTrue(vmLockedKib() - before >= 2 * 1024, "VmLck grew by the segments");
        }
        assertEquals(before, vmLockedKib(), "munmap on close dropped the locks");
    }

    @Test
    void build_requiredButRefused_failsStartUpWithTheReasonAndLeaksNothing() throws Exception {
        long fdsBefore = TestSyscalls.openFds();
        Throwable thrown = withMlockRefused(() -> ShmBuilder.newBuilder().totalBytes(64 * MIB).loops(2)
                .lockPolicy(LockPolicy.REQUIRED).name("mustlock").build());
        assertTrue(thrown instanceof ShmException, String.valueOf(thrown));
        ShmException e = (ShmException) thrown;
        assertTrue(e.errno() == Native.ENOMEM || e.errno() == Native.EPERM, "errno " + e.errno());
        String message = e.getMessage();
        assertTrue(message.contains("mlock of 33554432 bytes for mustlock-0 refused"), message);
        assertTrue(message.contains("RLIMIT_MEMLOCK soft="), message);
        assertTrue(message.contains("lock policy to try or off"), message);
        assertEquals(fdsBefore, TestSyscalls.openFds(), "nothing left open");
        assertEquals(0, TestSyscalls.mappingsMentioning("memfd:mustlock-"), "nothing left mapped");
    }

    @Test
    void build_tryButRefused_runsUnlockedCountingEachRefusalAndLogsOnce() throws Exception {
        Throwable thrown = withMlockRefused(() -> {
            try (Segments segments = ShmBuilder.newBuilder().totalBytes(64 * MIB).loops(2)
                    .lockPolicy(LockPolicy.TRY).name("maylock").build()) {
                StoreStats s = segments.stats();
                assertEquals(0, s.lockedBytes());
                assertEquals(2, s.lockFailures(), "one refusal per segment");
                assertEquals(1, MemfdStore.lockRefusalsLogged(), "logged once per process");
                Extent e = segments.store(0).allocate(MIB);
                e.slice().fill((byte) 1); // and the unlocked segment works
            }
            return null;
        });
        if (thrown != null) {
            throw new AssertionError(thrown);
        }
    }

    /**
     * Runs {@code body} on a fresh platform thread whose mlock is subject to RLIMIT_MEMLOCK; returns what it threw (or
     * null). Skips the test when the kernel would lock 32 MiB anyway.
     */
    private static Throwable withMlockRefused(Callable<?> body) throws Exception {
        long[] limit = TestSyscalls.memlockLimit();
        boolean lowered = false;
        if (limit[0] == -1 || limit[0] >= 32 * MIB) {
            lowered = TestSyscalls.setMemlockLimit(8 * MIB, limit[1]);
            assumeTrue(lowered, "cannot lower RLIMIT_MEMLOCK below 32 MiB");
        }
        try {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<Boolean> dropped = new AtomicReference<>(false);
            Thread t = Thread.ofPlatform().name("no-ipc-lock").start(() -> {
                dropped.set(TestSyscalls.dropIpcLockForThisThread() || !isRoot());
                if (!dropped.get()) {
                    return;
                }
                try {
                    body.call();
                } catch (Throwable e) {
                    thrown.set(e);
                }
            });
            t.join();
            assumeTrue(dropped.get(), "could not drop CAP_IPC_LOCK for the test thread");
            return thrown.get();
        } finally {
            if (lowered) {
                TestSyscalls.setMemlockLimit(limit[0], limit[1]);
            }
        }
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return true;
        }
    }

    private static long vmLockedKib() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("VmLck:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")))
                .findFirst().orElse(0);
    }
}
