package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TeeFill} on real loopback sockets and a memfd store: the stream bytes from the source land in the extent at
 * the asked offset and at the sink, {@code stored} never runs ahead of the file, and every end returns both pipes
 * (fds are checked by {@link LoopTestBase}).
 */
class TeeFillTest extends LoopTestBase {

    private Store store(boolean heap) {
        ShmBuilder b = ShmBuilder.newBuilder().totalBytes(16L << 20).loops(1).populate(false).lockPolicy(LockPolicy.OFF)
                .name("tee-test");
        return track(heap ? b.heap().build() : b.build()).store(0);
    }

    /** Records the tee's reports (on the loop) and checks each {@code stored} against the file at that moment. */
    static final class Recorder implements TeeFill.Listener {
        final Extent extent;
        final long position;
        final CountDownLatch done = new CountDownLatch(1);
        final AtomicReference<Throwable> doneCause = new AtomicReference<>();
        final AtomicReference<Throwable> outputCause = new AtomicReference<>();
        final AtomicInteger outputEnds = new AtomicInteger();
        volatile boolean outputFault;
        volatile long stored;
        volatile long sent;
        volatile long doneStored = -1;
        volatile String problem;

        Recorder(Extent extent, long position) {
            this.extent = extent;
            this.position = position;
        }

        @Override
        public void stored(long s) {
            if (s <= stored) {
                problem = "stored went from " + stored + " to " + s;
            }
            // the last byte reported must be in the file already
            byte expected = Bytes.of(s - 1, 1)[0];
            byte actual = extent.slice().get(ValueLayout.JAVA_BYTE, position + s - 1);
            if (expected != actual && problem == null) {
                problem = "stored(" + s + ") before byte " + (s - 1) + " was in the file";
            }
            stored = s;
        }

        @Override
        public void sent(long n) {
            if (n > stored && problem == null) {
                problem = "sent " + n + " before it was stored (" + stored + ")";
            }
            sent = n;
        }

        @Override
        public void outputEnded(long n, Throwable cause, boolean fault) {
            outputEnds.incrementAndGet();
            outputCause.set(cause);
            outputFault = fault;
        }

        @Override
        public void done(long s, Throwable cause) {
            doneStored = s;
            doneCause.set(cause);
            done.countDown();
        }

        void await() throws InterruptedException {
            assertTrue(done.await(20, TimeUnit.SECONDS), "tee did not end");
            assertNull(problem, problem);
        }
    }

    private static void assertExtentHolds(Extent e, long position, long n) {
        byte[] got = new byte[(int) n];
        MemorySegment.copy(e.slice(), ValueLayout.JAVA_BYTE, position, got, 0, (int) n);
        assertArrayEquals(Bytes.of(0, (int) n), got, "the extent's bytes");
    }

    private void awaitPipesBack() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (metrics.pipesInUse() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, metrics.pipesInUse(), "pipes in use after the tee");
    }

    @Test
    void storesEveryByteAtItsOffsetAndSendsIt() throws Exception {
        splicer();
        Rig rig = rig();
        long n = (3L << 20) + 5;
        long position = 1000;
        Extent e = store(false).allocate(n + 2000);
        CompletableFuture<Void> sentBySource = Rig.send(rig.source, 0, n);
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, n);
        Recorder r = new Recorder(e, position);

        TeeFill t = Rig.onLoop(() -> splicer.tee(rig.a, e, position, n, rig.b, r));
        assertNotNull(t, () -> "fallback: " + splicer.lastFallbackReason());
        r.await();

        sentBySource.get(10, TimeUnit.SECONDS);
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS), "first mismatching byte at the sink");
        assertNull(r.doneCause.get());
        assertNull(r.outputCause.get());
        assertEquals(1, r.outputEnds.get());
        assertEquals(n, r.doneStored);
        assertEquals(n, r.sent);
        assertExtentHolds(e, position, n);
        assertEquals(0, metrics.fallbacksTotal());
        awaitPipesBack();
    }

    @Test
    void anInputEndingEarlyFailsTheTee() throws Exception {
        splicer();
        Rig rig = rig();
        long n = 2L << 20;
        Extent e = store(false).allocate(n);
        Recorder r = new Recorder(e, 0);
        Rig.receive(rig.sink, 0, n / 2); // keeps the output moving; what it got before the failure is not checked
        Rig.onLoop(() -> splicer.tee(rig.a, e, 0, n, rig.b, r));
        Rig.send(rig.source, 0, n / 2).get(10, TimeUnit.SECONDS);
        rig.source.shutdownOutput();
        r.await();

        assertInstanceOf(PrematureEofException.class, r.doneCause.get());
        assertEquals(n / 2, r.doneStored, "what arrived was stored, and no more");
        assertEquals(1, r.outputEnds.get());
        assertTrue(!r.outputFault, "the input's end is not the output's fault");
        awaitPipesBack();
    }

    @Test
    void aDetachedOutputLetsTheStoreGoOn() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 16 << 10));
        long n = 4L << 20;
        Extent e = store(false).allocate(n);
        Recorder r = new Recorder(e, 0);
        CompletableFuture<Void> sentBySource = Rig.send(rig.source, 0, n);
        // the sink reads nothing: the tee soon waits for the output
        TeeFill t = Rig.onLoop(() -> splicer.tee(rig.a, e, 0, n, rig.b, r));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Rig.onLoop(t::outputWaitingSinceNanos) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(r.stored < n, "the output held the tee back");
        CountDownLatch freed = new CountDownLatch(1);
        boolean wait = Rig.onLoop(() -> t.detachOutput(freed::countDown));
        if (wait) {
            assertTrue(freed.await(5, TimeUnit.SECONDS), "the output's poll was let go");
        }
        r.await();
        sentBySource.get(10, TimeUnit.SECONDS);

        assertNull(r.doneCause.get());
        assertEquals(n, r.doneStored);
        assertEquals(0, r.outputEnds.get(), "no outputEnded after a detach");
        assertExtentHolds(e, 0, n);
        awaitPipesBack();
    }

    @Test
    void aHeapStoreFallsBack() throws Exception {
        splicer();
        Rig rig = rig();
        Extent e = store(true).allocate(1 << 20);
        TeeFill t = Rig.onLoop(() -> splicer.tee(rig.a, e, 0, 1 << 20, rig.b, new Recorder(e, 0)));
        assertNull(t);
        assertEquals(FallbackReason.NO_ZERO_COPY_SOURCE, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(1, metrics.fallbacks(FallbackReason.NO_ZERO_COPY_SOURCE));
    }
}
