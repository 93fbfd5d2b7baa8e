package dev.sluice.splice;

import io.netty.channel.unix.UnixChannel;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Read batching (SO_RCVLOWAT on the input while a counted transfer waits): fewer wake-ups for a fast sender, no bytes
 * held back for long from one that slows down, and the socket's default restored for Netty afterwards.
 */
class SpliceBatchTest extends LoopTestBase {
    private static final SpliceSettings BATCHING = SpliceSettings.defaults().withBatch(256 << 10, 1_000_000L);

    private static int lowat(Splicer s, Rig rig) {
        int fd = ((UnixChannel) rig.a).fd().intValue();
        return Rig.onLoop(() -> s.sys.getsockopt(fd, Syscalls.SOL_SOCKET, Syscalls.SO_RCVLOWAT));
    }

    @Test
    void fastSender_waitsForBatches_byteExact_andSocketDefaultRestored() throws Exception {
        Splicer s = splicer(BATCHING);
        Rig rig = rig();
        long n = 64L << 20;

        Outcome.Result r = spliceAtoB(rig, 0, n);

        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertTrue(metrics.batchedPollsIn() > 0, "a 64 MiB transfer from a fast sender should wait for batches; polls: "
                + metrics.eagainPollsIn());
        assertEquals(1, lowat(s, rig), "SO_RCVLOWAT must be back at the kernel default for Netty");
        // Netty waits for the next head with the default: a few bytes must wake it.
        Rig.onLoop(() -> rig.a.read());
        Thread.sleep(50);
        rig.source.getOutputStream().write("HTTP/1.1".getBytes());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (rig.recA.size() < 8 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(8, rig.recA.size(), "Netty's read after the transfer");
    }

    @Test
    void batchingOff_neverWaitsForBatches() throws Exception {
        Splicer s = splicer(SpliceSettings.defaults().withBatch(0, 0));
        Rig rig = rig();
        long n = 16L << 20;

        assertNull(spliceAtoB(rig, 0, n).cause());

        assertTrue(metrics.eagainPollsIn() > 0, "the input should have run dry at least once");
        assertEquals(0, metrics.batchedPollsIn());
        assertEquals(1, lowat(s, rig));
    }

    /**
     * The first wait of a transfer is batched too when bytes were moving since the start: with 1 MiB bodies most
     * transfers wait only once, so an unbatched first wait meant a wake-up per arriving segment for most of them.
     */
    @Test
    void firstWait_batchedFromTheRateSinceTheStart() throws Exception {
        Splicer s = splicer(BATCHING);
        Rig rig = rig();
        long early = 512L << 10;
        long n = 2L << 20;
        Rig.send(rig.source, 0, early).get(30, TimeUnit.SECONDS);
        Thread.sleep(20); // queued at the proxy before the transfer starts, as a body behind its head
        Outcome o = new Outcome();
        CompletableFuture<Long> all = Rig.receive(rig.sink, 0, n);
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (metrics.eagainPollsIn() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(1, metrics.eagainPollsIn(), "the queued bytes moved, then the input ran dry once");
        assertEquals(1, metrics.batchedPollsIn(), "that first wait should already wait for a batch");
        Rig.send(rig.source, early, n - early).get(30, TimeUnit.SECONDS);
        assertEquals(-1L, all.get(30, TimeUnit.SECONDS), "first mismatching byte");
        Outcome.Result r = o.await();
        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertEquals(1, lowat(s, rig));
    }

    /**
     * A sender that goes quiet after a fast start must not have its last bytes held back for a batch that does not
     * come: the hold bound (2 x batch-delay) lowers SO_RCVLOWAT and the queued bytes go out.
     */
    @Test
    void senderPauses_queuedBytesForwardedWithinTheBound_notAtTheNextBurst() throws Exception {
        Splicer s = splicer(BATCHING);
        Rig rig = rig();
        long fast = 8L << 20;
        long trickle = 1000;
        long rest = 1L << 20;
        long n = fast + trickle + rest;
        Outcome o = new Outcome();
        CompletableFuture<Long> head = Rig.receive(rig.sink, 0, fast + trickle);
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o));
        assertNotNull(t);
        Rig.send(rig.source, 0, fast).get(30, TimeUnit.SECONDS);
        Rig.send(rig.source, fast, trickle).get(30, TimeUnit.SECONDS);
        long sentAt = System.nanoTime();
        try {
            assertEquals(-1L, head.get(1500, TimeUnit.MILLISECONDS), "first mismatching byte");
        } catch (TimeoutException e) {
            fail("the last " + trickle + " bytes before the pause were still held after 1.5 s (batched polls "
                    + metrics.batchedPollsIn() + ", timeouts " + metrics.batchTimeouts() + ")");
        }
        long heldMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentAt);
        CompletableFuture<Long> tail = Rig.receive(rig.sink, fast + trickle, rest);
        Rig.send(rig.source, fast + trickle, rest).get(30, TimeUnit.SECONDS);
        assertEquals(-1L, tail.get(30, TimeUnit.SECONDS));
        Outcome.Result r = o.await();
        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertTrue(heldMillis < 1000, "held " + heldMillis + " ms");
        assertTrue(metrics.batchedPollsIn() > 0, "the fast start should have been batched");
        assertEquals(1, lowat(s, rig));
        assertEquals(0, Rig.onLoop(s::activeTransfers), "the slot is free once the timer's CQEs are in");
    }
}
