package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import dev.sluice.shm.StoreStats;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The corruption test of completion-tracked reuse through the real send path ({@link Splicer#send}), for each
 * {@link SendMechanism}: shm's {@code CorruptionTest} proves the store with raw syscalls, this proves that the four
 * ways a hit leaves the segment take and drop their extent reference at the right moments.
 *
 * <p>Each round sends a random region of a random extent of a 4 MiB memfd store, through a Netty io_uring client
 * channel with a small send buffer, to a plain blocking {@link Socket} with a small receive buffer that reads slowly.
 * Every block of the store not in the extent is held by fillers, so the only way to reallocate the extent's capacity
 * is to get the very same blocks back. While the send is in flight the owner loop frees the extent, either
 * <ul>
 *   <li>{@link When#IN_FLIGHT}: right after {@code send} returned (same loop task, or after a random pause), and
 *       asks for the blocks again at once: the store must refuse while the send holds its reference; or</li>
 *   <li>{@link When#AT_CALLBACK}: inside the send's callback, the moment the send "completed", and reallocates at
 *       once when the store allows it (WRITE, SPLICE and SENDFILE release before their callback; SEND_ZC only at the
 *       notification, which may come later).</li>
 * </ul>
 * As soon as the store hands the blocks out again they are overwritten with the complement of the original bytes
 * (so every leaked byte shows). The reader pauses from the moment the send released the extent until the rewrite,
 * so everything it has not read by then was in flight (socket buffers, pipe, unacknowledged skbs) during the
 * rewrite. It must still receive exactly the original bytes.
 */
class SendReuseCorruptionTest extends LoopTestBase {
    private static final int BLOCK = 4096;
    private static final long STORE_BYTES = 4L << 20;
    private static final int ROUNDS = 60;
    private static final int MAX_SIZE = 384 * 1024;
    private static final int SMALL_BUFFER = 16 * 1024;

    enum When { IN_FLIGHT, AT_CALLBACK }

    /** Totals over all rounds of one mechanism. */
    static final class Totals {
        long wrongBytes;
        int corruptedRounds;
        /** IN_FLIGHT rounds freeing in the same loop task as the send; each must have been refused. */
        int immediateRounds;
        int refusedImmediately;
        int atCallbackRounds;
        /** AT_CALLBACK rounds that got the blocks back inside the callback. */
        final AtomicInteger reusedAtCallback = new AtomicInteger();
        /** allocate() calls that returned null because the freed extent was draining. */
        final AtomicInteger refusals = new AtomicInteger();
        long unreadAtRewrite;
        int roundsWithUnreadAtRewrite;
        long maxDrainingBytesSeen;
        long capacitySum;

        @Override
        public String toString() {
            return String.format("wrong=%d corruptedRounds=%d immediate=%d/%d refused, atCallback=%d (%d reused "
                            + "inside the callback), refusals=%d, unreadAtRewrite=%d bytes in %d rounds, "
                            + "maxDraining=%d", wrongBytes, corruptedRounds, refusedImmediately, immediateRounds,
                    atCallbackRounds, reusedAtCallback.get(), refusals.get(), unreadAtRewrite,
                    roundsWithUnreadAtRewrite, maxDrainingBytesSeen);
        }
    }

    @ParameterizedTest
    @EnumSource(SendMechanism.class)
    void send_extentFreedAndItsBlocksRewrittenWhileInFlight_readerGetsOriginalBytes(SendMechanism mechanism)
            throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, SMALL_BUFFER));
        Segments segments = track(ShmBuilder.newBuilder().totalBytes(STORE_BYTES).loops(1).populate(false)
                .lockPolicy(LockPolicy.OFF).name("reuse-" + mechanism.tag()).build());
        Store store = segments.store(0); // owner: the loop (every allocate below runs there)
        SplittableRandom random = new SplittableRandom(0xC0FFEEL + mechanism.ordinal());
        Totals totals = new Totals();

        for (int round = 0; round < ROUNDS; round++) {
            round(mechanism, rig, store, random, totals, round);
        }

        StoreStats stats = store.stats();
        String report = mechanism + ": " + totals + "; " + stats + ", zcCopied=" + metrics.sendZcCopied();
        System.out.println(report);
        assertEquals(0, totals.wrongBytes, report);
        assertEquals(totals.immediateRounds, totals.refusedImmediately,
                "freed in the task that started the send: always refused (draining) " + report);
        assertTrue(totals.immediateRounds > 0 && totals.atCallbackRounds > 0, report);
        assertEquals(totals.refusals.get(), stats.allocationFailures(), "every refusal counted: " + report);
        assertEquals(ROUNDS + otherFrees, stats.frees(), "every extent freed once: " + report);
        assertTrue(totals.maxDrainingBytesSeen > 0, "a freed extent was seen draining: " + report);
        assertTrue(totals.roundsWithUnreadAtRewrite > 0 && totals.unreadAtRewrite > 0,
                "rewrites happened while the reader had bytes to come: " + report);
        assertEquals(0, stats.quarantinedBytes(), report);
        switch (mechanism) {
            case WRITE -> {
                assertEquals(totals.atCallbackRounds, totals.reusedAtCallback.get(),
                        "a write releases when Netty frees its buffers, before the write's listener: " + report);
                assertEquals(0, stats.punches(), "copied sends need no punching: " + report);
            }
            case SPLICE, SENDFILE -> {
                assertEquals(totals.atCallbackRounds, totals.reusedAtCallback.get(),
                        "a splice or sendfile releases when its last call returned, before the callback: " + report);
                assertEquals(ROUNDS, stats.punches(), "every spliced extent punched before reuse: " + report);
                assertEquals(totals.capacitySum, stats.punchedBytes(), report);
            }
            case SEND_ZC -> {
                assertTrue(totals.reusedAtCallback.get() < totals.atCallbackRounds,
                        "some notifications came after the callback, and reuse waited for them: " + report);
                assertEquals(0, stats.punches(), "SEND_ZC releases at the notification, no punching: " + report);
                assertTrue(metrics.sendZcCopied() > 0, "loopback copies: " + report);
            }
        }
        assertEquals(0, metrics.fallbacksTotal(), "every send used the mechanism asked for");
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
    }

    /** Frees of fillers and reallocated extents (the rounds' own extents are the other {@link #ROUNDS}). */
    private long otherFrees;

    private void round(SendMechanism mechanism, Rig rig, Store store, SplittableRandom random, Totals totals,
                       int round) throws Exception {
        int before = random.nextInt(48);
        int size = 1 + random.nextInt(MAX_SIZE);
        int position = random.nextInt(size);
        int length = 1 + random.nextInt(size - position);
        byte[] content = new byte[size];
        random.nextBytes(content);
        When when = random.nextBoolean() ? When.IN_FLIGHT : When.AT_CALLBACK;
        int pauseNanos = when == When.IN_FLIGHT && random.nextBoolean() ? random.nextInt(300_000) : 0;

        // Owner loop: a random offset, the extent, and fillers over every other block.
        List<Extent> fillers = new ArrayList<>();
        Extent extent = Rig.onLoop(() -> {
            if (before > 0) {
                fillers.add(store.allocate((long) before * BLOCK));
            }
            Extent e = store.allocate(size);
            assertNotNull(e);
            e.slice().copyFrom(MemorySegment.ofArray(content));
            for (long largest; (largest = store.stats().largestFreeBytes()) > 0; ) {
                Extent f = store.allocate(largest);
                assertNotNull(f, "filler");
                fillers.add(f);
            }
            return e;
        });
        long capacity = extent.capacity();
        totals.capacitySum += capacity;
        byte[] garbage = new byte[(int) capacity];
        for (int i = 0; i < garbage.length; i++) {
            garbage[i] = i < size ? (byte) ~content[i] : (byte) 0xA5;
        }

        AtomicLong readSoFar = new AtomicLong();
        AtomicReference<Extent> again = new AtomicReference<>();
        CountDownLatch rewritten = new CountDownLatch(1);
        AtomicReference<Throwable> loopFailure = new AtomicReference<>();
        CompletableFuture<Long> callback = new CompletableFuture<>();

        // Runs on the loop: take the blocks back if the store lets us, and overwrite them at once.
        Runnable tryReuse = () -> {
            Extent a = store.allocate(capacity);
            if (a == null) {
                totals.refusals.incrementAndGet();
                return;
            }
            assertEquals(Extent.State.FREE, extent.state(), "reused only after the send's release");
            assertEquals(extent.offset(), a.offset(), "the very same blocks");
            long unread = length - readSoFar.get();
            if (unread > 0) {
                totals.unreadAtRewrite += unread;
                totals.roundsWithUnreadAtRewrite++;
            }
            a.slice().copyFrom(MemorySegment.ofArray(garbage));
            again.set(a);
            rewritten.countDown();
        };
        Runnable freeInFlight = () -> {
            extent.free();
            long draining = store.stats().drainingBytes();
            totals.maxDrainingBytesSeen = Math.max(totals.maxDrainingBytesSeen, draining);
            tryReuse.run();
        };
        SpliceCallback cb = (moved, cause) -> {
            try {
                assertNull(cause, "send failed");
                assertEquals(length, moved);
                if (when == When.AT_CALLBACK) {
                    extent.free();
                    tryReuse.run();
                    if (again.get() != null) {
                        totals.reusedAtCallback.incrementAndGet();
                    }
                }
            } catch (Throwable t) {
                loopFailure.compareAndSet(null, t);
            } finally {
                callback.complete(moved);
            }
        };

        Rig.onLoop(() -> {
            splicer.send(extent, position, length, rig.b, mechanism, 0, cb);
            if (when == When.IN_FLIGHT && pauseNanos == 0) {
                totals.immediateRounds++;
                freeInFlight.run();
                if (again.get() == null) {
                    totals.refusedImmediately++;
                }
            }
        });
        // The send holds its reference now: the reader pauses once it is released, until the rewrite.
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(
                () -> slowRead(rig.sink, length, extent, rewritten, readSoFar, new SplittableRandom(round)),
                Rig.PEERS);
        if (when == When.IN_FLIGHT && pauseNanos > 0) {
            LockSupport.parkNanos(pauseNanos);
            Rig.onLoop(freeInFlight);
        }
        if (when == When.AT_CALLBACK) {
            totals.atCallbackRounds++;
        }
        callback.get(20, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (again.get() == null) { // waiting for the release (SEND_ZC: the notification)
            assertTrue(System.nanoTime() < deadline, "the send never released the extent");
            if (received.isDone()) {
                received.get(); // surfaces a reader failure
            }
            LockSupport.parkNanos(200_000);
            Rig.onLoop(tryReuse);
        }
        byte[] got = received.get(20, TimeUnit.SECONDS);
        if (loopFailure.get() != null) {
            throw new AssertionError("round " + round, loopFailure.get());
        }
        int wrong = 0;
        for (int i = 0; i < length; i++) {
            if (got[i] != content[position + i]) {
                wrong++;
            }
        }
        totals.wrongBytes += wrong;
        totals.corruptedRounds += wrong > 0 ? 1 : 0;

        otherFrees += fillers.size() + 1;
        Rig.onLoop(() -> {
            again.get().free();
            fillers.forEach(Extent::free);
            store.reclaim();
            assertEquals(store.capacity(), store.stats().freeBytes(), "round " + round + " left no residue");
        });
    }

    /**
     * Reads {@code length} bytes in small random chunks with pauses. Once the send released the extent it waits for
     * the owner's rewrite (at most 200 ms, which a correct send never needs: the rewrite follows the release on the
     * loop), so whatever is unread then was in flight during the rewrite.
     */
    private static byte[] slowRead(Socket sink, int length, Extent extent, CountDownLatch rewritten,
                                   AtomicLong readSoFar, SplittableRandom random) {
        try {
            InputStream in = sink.getInputStream();
            byte[] into = new byte[length];
            int done = 0;
            boolean gate = true;
            while (done < length) {
                if (gate && extent.refCnt() == 0) {
                    // Bounded: a send that released too early may need the reader to go on before it completes.
                    rewritten.await(200, TimeUnit.MILLISECONDS);
                    gate = false;
                }
                int r = in.read(into, done, Math.min(length - done, 1 + random.nextInt(8192)));
                if (r < 0) {
                    throw new IOException("EOF after " + done + " of " + length + " bytes");
                }
                done += r;
                readSoFar.set(done);
                LockSupport.parkNanos(20_000);
            }
            return into;
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
