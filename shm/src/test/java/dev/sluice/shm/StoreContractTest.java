package dev.sluice.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The storage contract, run against the heap store and the memfd store alike. */
class StoreContractTest {
    private static final int BLOCK = 4096;

    private static Segments open(Backing backing, long bytes) {
        ShmBuilder builder = ShmBuilder.newBuilder().totalBytes(bytes).lockPolicy(LockPolicy.OFF).name("contract");
        return switch (backing) {
            case HEAP -> builder.heap().build();
            case MEMFD -> builder.memfd().build();
            case POSIX_SHM -> builder.posixShm("sluice-contract-" + ProcessHandle.current().pid()).build();
        };
    }

    private static void assertAddsUp(StoreStats s) {
        assertEquals(s.capacityBytes(), s.allocatedBytes() + s.drainingBytes() + s.freeBytes() + s.quarantinedBytes(),
                () -> "allocated + draining + free + quarantined = capacity: " + s);
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void allocate_nonPositiveSize_throwsIllegalArgument(Backing backing) {
        try (Segments segments = open(backing, 64 * BLOCK)) {
            Store store = segments.store(0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> store.allocate(0));
            assertTrue(e.getMessage().contains("size must be positive: 0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> store.allocate(-5));
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void allocate_moreThanFree_returnsNullAndCountsFailure(Backing backing) {
        try (Segments segments = open(backing, 64 * BLOCK)) {
            Store store = segments.store(0);
            assertNull(store.allocate(64L * BLOCK + 1));
            assertNull(store.allocate(Long.MAX_VALUE));
            Extent all = store.allocate(64L * BLOCK);
            assertNotNull(all);
            assertNull(store.allocate(1));
            StoreStats s = store.stats();
            assertEquals(3, s.allocationFailures());
            assertEquals(1, s.allocations());
            assertEquals(64L * BLOCK, s.allocatedBytes());
            assertEquals(0, s.freeBytes());
            assertEquals(1.0, s.occupancy());
            assertAddsUp(s);
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void allocate_oddSize_reservesWholeBlocksAndSlicesExactLength(Backing backing) {
        try (Segments segments = open(backing, 64 * BLOCK)) {
            Store store = segments.store(0);
            Extent a = store.allocate(1);
            Extent b = store.allocate(BLOCK + 1);
            assertEquals(0, a.offset());
            assertEquals(BLOCK, a.capacity());
            assertEquals(BLOCK, b.offset());
            assertEquals(2 * BLOCK, b.capacity());
            assertEquals(BLOCK + 1, b.slice().byteSize());
            assertEquals(BLOCK + 1, b.byteBuffers()[0].remaining());
            assertSame(store, b.store());
            assertEquals(3L * BLOCK, store.stats().allocatedBytes());
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void freeUnreferenced_nextAllocate_reclaimsAndReusesBlocks(Backing backing) {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            Extent a = store.allocate(8L * BLOCK);
            assertEquals(Extent.State.LIVE, a.state());
            a.free();
            assertEquals(Extent.State.DRAINING, a.state(), "until the owner loop reclaims it");
            StoreStats s = store.stats();
            assertEquals(8L * BLOCK, s.drainingBytes());
            assertEquals(1, s.drainingExtents());
            assertAddsUp(s);
            Extent b = store.allocate(8L * BLOCK);
            assertNotNull(b, "allocate reclaims what was released first");
            assertEquals(Extent.State.FREE, a.state());
            assertEquals(a.offset(), b.offset());
            s = store.stats();
            assertEquals(0, s.drainingBytes());
            assertEquals(1, s.reclaims());
            assertAddsUp(s);
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void freeReferenced_drainsUntilLastRelease_thenReclaimed(Backing backing) throws Exception {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            Extent a = store.allocate(8L * BLOCK);
            a.retain();
            a.retain();
            assertEquals(2, a.refCnt());
            a.free();
            assertEquals(0, store.reclaim(), "still referenced by two sends");
            assertNull(store.allocate(1), "draining blocks are not free");
            Thread.sleep(2);
            StoreStats s = store.stats();
            assertEquals(8L * BLOCK, s.drainingBytes());
            assertTrue(s.drainingAgeNanos() >= 1_000_000, "draining age counts: " + s.drainingAgeNanos());
            assertAddsUp(s);
            assertFalse(a.release(), "one reference left");
            assertEquals(Extent.State.DRAINING, a.state());
            assertTrue(a.release(), "last reference of a freed extent");
            assertEquals(Extent.State.DRAINING, a.state(), "until the owner reclaims");
            assertEquals(1, store.reclaim());
            assertEquals(Extent.State.FREE, a.state());
            s = store.stats();
            assertEquals(0, s.drainingBytes());
            assertEquals(0, s.drainingAgeNanos());
            assertEquals(8L * BLOCK, s.freeBytes());
            assertEquals(1, s.freeRuns());
            assertEquals(0.0, s.fragmentation());
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void referenceMisuse_throwsIllegalStateWithExtentInMessage(Backing backing) {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            Extent a = store.allocate(100);
            IllegalStateException e = assertThrows(IllegalStateException.class, a::release);
            assertTrue(e.getMessage().contains("release without a reference"), e.getMessage());
            a.retain();
            a.free();
            assertFalse(a.tryRetain(), "a lookup takes no reference on a freed extent");
            a.retain(); // allowed: a holder of a reference hands out another (a send while being evicted)
            assertFalse(a.release());
            assertThrows(IllegalStateException.class, a::free, "double free");
            a.markSpliced(); // allowed: a reference is still held
            assertTrue(a.release());
            assertThrows(IllegalStateException.class, a::retain, "freed and unreferenced: no new references");
            a.markSpliced(); // idempotent once marked
            Extent b = store.allocate(100);
            b.free();
            assertThrows(IllegalStateException.class, b::markSpliced, "freed and unreferenced: too late");
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void byteBuffer_outOfRange_throwsIndexOutOfBounds(Backing backing) {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Extent a = segments.store(0).allocate(1000);
            assertEquals(10, a.byteBuffer(990, 10).remaining());
            assertThrows(IndexOutOfBoundsException.class, () -> a.byteBuffer(991, 10));
            assertThrows(IndexOutOfBoundsException.class, () -> a.byteBuffer(-1, 10));
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void writeThroughSlice_readThroughByteBuffer_sameBytes(Backing backing) {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            store.allocate(BLOCK);
            Extent a = store.allocate(3000);
            byte[] data = new byte[3000];
            new SplittableRandom(7).nextBytes(data);
            a.slice().copyFrom(java.lang.foreign.MemorySegment.ofArray(data));
            ByteBuffer view = a.byteBuffer(0, 3000);
            byte[] back = new byte[3000];
            view.get(back);
            assertArrayEquals(data, back);
            assertEquals(data[0], store.segment().get(ValueLayout.JAVA_BYTE, BLOCK));
            assertEquals(backing != Backing.HEAP, view.isDirect());
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void releaseFromManyThreads_whileOwnerAllocates_everyExtentReclaimedOnce(Backing backing) throws Exception {
        int senders = 3;
        try (Segments segments = open(backing, 256 * BLOCK);
             ExecutorService pool = Executors.newFixedThreadPool(senders)) {
            Store store = segments.store(0);
            ConcurrentLinkedQueue<Extent> inFlight = new ConcurrentLinkedQueue<>();
            AtomicBoolean stop = new AtomicBoolean();
            List<Future<Integer>> releasers = new ArrayList<>();
            for (int t = 0; t < senders; t++) {
                releasers.add(pool.submit(() -> {
                    int released = 0;
                    while (!stop.get() || !inFlight.isEmpty()) {
                        Extent e = inFlight.poll();
                        if (e == null) {
                            Thread.onSpinWait();
                            continue;
                        }
                        // Another "send" races the owner's free: only a successful tryRetain may send.
                        if (e.tryRetain()) {
                            e.release();
                        }
                        e.release();
                        released++;
                    }
                    return released;
                }));
            }
            SplittableRandom random = new SplittableRandom(42);
            List<Extent> all = new ArrayList<>();
            int handedOut = 0;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(400);
            while (System.nanoTime() < deadline || handedOut < 2000) {
                Extent e = store.allocate(1 + random.nextInt(8 * BLOCK));
                if (e == null) {
                    Thread.onSpinWait();
                    continue;
                }
                handedOut++;
                all.add(e);
                e.retain();
                // Free before or after handing it to a sender: both orders must end reclaimed exactly once.
                if (random.nextBoolean()) {
                    e.free();
                    inFlight.add(e);
                } else {
                    inFlight.add(e);
                    e.free();
                }
                assertAddsUp(store.stats());
            }
            stop.set(true);
            int released = 0;
            for (Future<Integer> f : releasers) {
                released += f.get(10, TimeUnit.SECONDS);
            }
            assertEquals(handedOut, released);
            store.reclaim();
            for (Extent e : all) {
                assertEquals(Extent.State.FREE, e.state(), e::toString);
            }
            StoreStats s = store.stats();
            assertEquals(handedOut, s.frees());
            assertEquals(handedOut, s.reclaims(), "each extent reclaimed exactly once");
            assertEquals(0, s.drainingBytes());
            assertEquals(store.capacity(), s.freeBytes());
            ((AbstractStore) store).checkInvariants();
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void free_fromAnotherThread_reclaimedByOwner(Backing backing) throws Exception {
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            Extent a = store.allocate(8L * BLOCK);
            CountDownLatch done = new CountDownLatch(1);
            Thread.ofPlatform().start(() -> {
                a.free();
                done.countDown();
            });
            assertTrue(done.await(5, TimeUnit.SECONDS));
            assertNotNull(store.allocate(8L * BLOCK));
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void allocate_fromSecondThread_failsOwnerAssertion(Backing backing) throws Exception {
        boolean assertionsOn = false;
        assert assertionsOn = true;
        if (!assertionsOn) {
            return;
        }
        try (Segments segments = open(backing, 8 * BLOCK)) {
            Store store = segments.store(0);
            store.allocate(1);
            Throwable[] thrown = new Throwable[1];
            Thread t = Thread.ofPlatform().name("not-the-owner").start(() -> {
                try {
                    store.allocate(1);
                } catch (Throwable e) {
                    thrown[0] = e;
                }
            });
            t.join();
            assertTrue(thrown[0] instanceof AssertionError, String.valueOf(thrown[0]));
            assertTrue(thrown[0].getMessage().contains("not-the-owner"), thrown[0].getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(Backing.class)
    void close_thenAllocate_throwsIllegalState(Backing backing) {
        Segments segments = open(backing, 8 * BLOCK);
        Store store = segments.store(0);
        segments.close();
        segments.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> store.allocate(1));
        assertEquals(0, store.reclaim());
    }
}
