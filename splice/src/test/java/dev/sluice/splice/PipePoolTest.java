package dev.sluice.splice;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.io.FileOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipePoolTest extends LoopTestBase {

    private static void fill(Pipe p, int n) throws Exception {
        // A second, blocking open of the pipe; n stays far below the pipe's capacity.
        try (FileOutputStream out = new FileOutputStream("/proc/self/fd/" + p.writeFd)) {
            out.write(Bytes.of(0, n));
        }
    }

    @Test
    void acquire_beyondMax_nullWithPoolExhausted() {
        PipePool pool = new PipePool(2, 1 << 20, metrics);
        Pipe p1 = pool.acquire();
        Pipe p2 = pool.acquire();

        assertNotNull(p1);
        assertNotNull(p2);
        assertNull(pool.acquire());
        assertEquals(FallbackReason.POOL_EXHAUSTED, pool.lastFailure());
        assertEquals(2, metrics.pipesInUse());
        pool.release(p1, 0);
        assertSame(p1, pool.acquire(), "released pipes are reused");
        pool.release(p1, 0);
        pool.release(p2, 0);
        pool.close();
        assertEquals(0, metrics.pipesOpen());
    }

    @Test
    void create_defaultSettings_pipeOfOneMiB() throws Exception {
        int sysctl;
        try (var r = new java.io.BufferedReader(new java.io.FileReader("/proc/sys/fs/pipe-max-size"))) {
            sysctl = Integer.parseInt(r.readLine().trim());
        }
        PipePool pool = new PipePool(1, SpliceSettings.DEFAULT_PIPE_SIZE, metrics);
        Pipe p = pool.acquire();

        assertEquals(sysctl, PipePool.PIPE_MAX_SIZE);
        assertEquals(Math.min(sysctl, 1 << 20), p.capacity);
        pool.release(p, 0);
        pool.close();
    }

    @Test
    void create_sizeAboveMax_clampedToPipeMaxSize() {
        PipePool pool = new PipePool(1, 1 << 30, metrics);
        Pipe p = pool.acquire();

        assertEquals(Math.min(1 << 30, PipePool.PIPE_MAX_SIZE), pool.requestedSize());
        assertEquals(pool.requestedSize(), p.capacity);
        assertEquals(p.capacity, Syscalls.fcntl(p.writeFd, Syscalls.F_GETPIPE_SZ, 0));
        assertEquals(1, Syscalls.isNonBlocking(p.readFd));
        pool.release(p, 0);
        pool.close();
    }

    @Test
    void release_leftoverBytes_drainedAndPipeKept() throws Exception {
        PipePool pool = new PipePool(1, 1 << 20, metrics);
        Pipe p = pool.acquire();
        fill(p, 200_000);

        pool.release(p, 200_000);

        assertEquals(0, Syscalls.readable(p.readFd));
        assertEquals(1, pool.idle());
        assertEquals(0, metrics.pipesDiscarded());
        pool.close();
    }

    @Test
    void release_moreBytesThanAccountedFor_pipeDiscarded() throws Exception {
        PipePool pool = new PipePool(1, 1 << 20, metrics);
        Pipe p = pool.acquire();
        fill(p, 5000);

        pool.release(p, 1000);

        assertEquals(0, pool.idle());
        assertEquals(1, metrics.pipesDiscarded());
        assertEquals(0, metrics.pipesOpen());
        assertEquals(-Syscalls.EBADF, Syscalls.readable(p.readFd), "the discarded pipe's fds are closed");
        pool.close();
    }

    @Test
    void settings_outOfRange_rejectedWithTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SpliceSettings(0, 4096));
        assertTrue(e.getMessage().contains("maxPipes") && e.getMessage().contains("0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SpliceSettings(1, 100));
        assertTrue(e.getMessage().contains("pipeSize") && e.getMessage().contains("100"), e.getMessage());
        assertEquals(new SpliceSettings(64, 1 << 20), SpliceSettings.defaults());
    }

    @Test
    void isAvailable_onThisHost_trueWithoutCause() {
        assertTrue(Splicer.isAvailable(), () -> "unavailable: " + Splicer.unavailabilityCause());
        assertNull(Splicer.unavailabilityCause());
    }

    @Test
    void bindTo_afterTransfer_metersCarryCallerTagsAndCounts() throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        metrics.bindTo(registry, Tags.of("loop", "0"));
        splicer();
        Rig rig = rig();
        Rig.send(rig.source, 0, 12345);
        Outcome o = new Outcome();
        Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 12345, 0, o));
        assertNull(o.await().cause());
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 12345));
        Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 0, 0, new Outcome()) == null);

        assertEquals(12345.0, registry.get("sluice.splice.bytes").tag("loop", "0").functionCounter().count());
        assertEquals(64.0, registry.get("sluice.splice.pipes.max").tag("loop", "0").gauge().value());
        assertEquals(1.0, registry.get("sluice.splice.pipes.created").functionCounter().count());
        assertEquals(2.0, registry.get("sluice.splice.transfers").tag("outcome", "completed")
                .functionCounter().count());
        assertEquals(0.0, registry.get("sluice.splice.fallbacks").tag("reason", "pool_exhausted")
                .functionCounter().count());
        assertEquals(FallbackReason.values().length,
                registry.find("sluice.splice.fallbacks").functionCounters().size());
    }
}
