package dev.sluice.splice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A transfer whose input stalled learns that its output's peer left (FIN or reset) when started with the output
 * watched, instead of waiting for the idle timeout: for a response body, the client gone while the origin stalls.
 * Each scenario has the idle timeout as its backstop, so a missing watch fails the test with a timeout, not a hang.
 */
class HangupWatchTest extends LoopTestBase {
    private static final long MS = 1_000_000L;
    private static final long IDLE = 4_000 * MS;

    @Test
    void watched_sinkHalfClosesWhileSourceStalls_outputClosedLongBeforeTheIdleTimeout() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 1 << 20, IDLE, true, o)));
        Bytes.write(rig.source.getOutputStream(), 0, 100_000, null);
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 100_000));
        long t0 = System.nanoTime();
        rig.sink.shutdownOutput(); // FIN, and the source sends nothing more
        Outcome.Result r = o.await();
        long elapsed = System.nanoTime() - t0;

        assertInstanceOf(OutputClosedException.class, r.cause(), () -> "ended by " + r.cause());
        assertEquals(100_000, r.moved());
        assertTrue(elapsed < IDLE / 2, () -> "noticed after " + elapsed / MS + " ms");
        assertEquals(1, metrics.hangupWatches());
        assertEquals(1, metrics.transfers(SpliceOutcome.OUTPUT_CLOSED));
        assertEquals(0, metrics.pipesInUse());
    }

    @Test
    void watched_sinkResetsWhileSourceStalls_outputClosed() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 1 << 20, IDLE, true, o)));
        Bytes.write(rig.source.getOutputStream(), 0, 5_000, null);
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 5_000));
        Thread.sleep(400); // the watch is armed by now
        rig.sink.setSoLinger(true, 0);
        rig.sink.close(); // RST
        Outcome.Result r = o.await();

        assertInstanceOf(OutputClosedException.class, r.cause(), () -> "ended by " + r.cause());
        assertEquals(5_000, r.moved());
        assertEquals(1, metrics.hangupWatches());
    }

    /** Without the watch nothing is written that could fail, so only the idle timeout ends it (L4 pumps, uploads). */
    @Test
    void unwatched_sinkHalfClosesWhileSourceStalls_onlyTheIdleTimeoutEndsIt() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 1 << 20, 600 * MS, o)));
        Bytes.write(rig.source.getOutputStream(), 0, 100_000, null);
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 100_000));
        rig.sink.shutdownOutput();
        Outcome.Result r = o.await();

        assertInstanceOf(SpliceTimeoutException.class, r.cause(), () -> "ended by " + r.cause());
        assertEquals(0, metrics.hangupWatches());
    }

    /**
     * A watched transfer that stalls long enough to arm the watch and then completes: byte-exact, the watch is
     * cancelled, the slot comes free, and the channels carry the next transfer as before.
     */
    @Test
    void watched_stallThenResume_completesAndTheChannelsStayUsable() throws Exception {
        splicer();
        Rig rig = rig();
        int n = 3 << 20;
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, n);
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, IDLE, true, o)));
        Bytes.write(rig.source.getOutputStream(), 0, 1 << 20, null);
        Thread.sleep(600); // stalled: the watch is armed
        assertEquals(1, metrics.hangupWatches());
        Bytes.write(rig.source.getOutputStream(), 1 << 20, n - (1 << 20), null);
        Outcome.Result r = o.await();

        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertEquals(-1L, got.get(30, TimeUnit.SECONDS), "first mismatching byte at the sink");
        long deadline = System.nanoTime() + 5_000 * MS;
        while (Rig.onLoop(splicer::activeTransfers) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, Rig.onLoop(splicer::activeTransfers), "the cancelled watch's CQEs freed the slot");
        spliceAtoB(rig, n, 2 << 20);
        assertEquals(0, rig.recB.size(), "Netty read nothing of its own from the output");
    }
}
