package dev.sluice.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The corruption test of completion-tracked reuse. Each round sends an extent to a slow reader with a small receive
 * buffer; while the send is in flight the owner frees the extent, and as soon as the store lets it, reallocates the very
 * same blocks and overwrites them (with the complement of the original bytes, so every overwritten byte that leaks
 * shows). The reader must still receive exactly the original bytes. Random sizes and offsets, many rounds.
 *
 * <p>Every other block of the store is held by fillers, so the freed extent's blocks are the only candidates for the
 * reallocation: a store that handed draining blocks out would be caught at once.
 */
class CorruptionTest {
    private static final int BLOCK = 4096;
    private static final int ROUNDS = 40;
    private static final int MAX_SIZE = 384 * 1024;
    private static final int SMALL_BUFFER = 16 * 1024;

    enum Sender {
        /** java.nio blocking write of a ByteBuffer view of the mapping: the kernel copies before write returns. */
        COPY,
        /** splice memfd -> pipe -> socket with the extent marked spliced: punched out before reuse. */
        SPLICE_PUNCHED,
        /** splice without marking: rewritten in place while skbs still reference the pages (the hazard). */
        SPLICE_IN_PLACE
    }

    record Result(long wrongBytes, int corruptedRounds, long bytesInFlightAtRewrite, int refusedWhileDraining,
                  long punches) {}

    @Test
    void copyingWrite_extentRewrittenAfterWriteCompletes_readerGetsOriginalBytes() throws Exception {
        Result r = run(Sender.COPY, 11);
        System.out.printf("copying write: %s%n", r);
        assertEquals(0, r.wrongBytes(), r.toString());
        assertTrue(r.refusedWhileDraining() > 0, "some rounds freed the extent mid-write and were refused it: " + r);
        assertEquals(0, r.punches(), "copied sends need no punching");
    }

    @Test
    void spliceFromMemfd_markedSpliced_punchedBeforeReuse_readerGetsOriginalBytes() throws Exception {
        Result r = run(Sender.SPLICE_PUNCHED, 12);
        System.out.printf("splice, punched before reuse: %s%n", r);
        assertEquals(0, r.wrongBytes(), r.toString());
        assertTrue(r.bytesInFlightAtRewrite() > 0, "the rewrites happened while bytes were in flight: " + r);
        assertEquals(ROUNDS, r.punches(), "every round's extent was punched out: " + r);
    }

    @Test
    void spliceFromMemfd_rewrittenInPlaceAfterCompletion_canCorrupt() throws Exception {
        // The control: without the punch, a splice's completion does not mean the kernel let go of the pages.
        Result r = run(Sender.SPLICE_IN_PLACE, 13);
        System.out.printf("control (splice, rewrite in place without punching): %s%n", r);
        assumeTrue(r.wrongBytes() > 0, "this kernel did not show the hazard this time: " + r);
        assertTrue(r.corruptedRounds() > 0);
    }

    private static Result run(Sender sender, long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        long wrong = 0;
        int corruptedRounds = 0;
        long inFlight = 0;
        int refused = 0;
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(4L << 20).name("corrupt-" + sender.name())
                .build();
             ServerSocketChannel server = ServerSocketChannel.open();
             ExecutorService pool = Executors.newFixedThreadPool(2)) {
            Store store = segments.store(0);
            server.setOption(StandardSocketOptions.SO_RCVBUF, SMALL_BUFFER); // inherited by the accepted socket
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            SocketChannel copyClient = null;
            int spliceClient = -1;
            int[] pipe = null;
            if (sender == Sender.COPY) {
                copyClient = SocketChannel.open();
                copyClient.setOption(StandardSocketOptions.SO_SNDBUF, SMALL_BUFFER);
                copyClient.connect(server.getLocalAddress());
            } else {
                spliceClient = TestSyscalls.connectLoopback(port, SMALL_BUFFER);
                pipe = TestSyscalls.pipe();
            }
            try (SocketChannel reader = server.accept()) {
                for (int round = 0; round < ROUNDS; round++) {
                    List<Extent> fillers = new ArrayList<>();
                    int before = random.nextInt(48);
                    if (before > 0) {
                        fillers.add(store.allocate((long) before * BLOCK)); // a random offset for the extent
                    }
                    int size = 1 + random.nextInt(MAX_SIZE);
                    Extent extent = store.allocate(size);
                    assertNotNull(extent);
                    byte[] expected = new byte[size];
                    random.nextBytes(expected);
                    extent.slice().copyFrom(MemorySegment.ofArray(expected));
                    extent.retain(); // the send's reference
                    if (sender == Sender.SPLICE_PUNCHED) {
                        extent.markSpliced();
                    }
                    for (long largest; (largest = store.stats().largestFreeBytes()) > 0; ) {
                        fillers.add(store.allocate(largest));
                    }

                    CountDownLatch writerDone = new CountDownLatch(1);
                    CountDownLatch rewritten = new CountDownLatch(1);
                    AtomicLong readSoFar = new AtomicLong();
                    SocketChannel copyOut = copyClient;
                    int spliceOut = spliceClient;
                    int[] spliceVia = pipe;
                    Future<?> writer = pool.submit(() -> {
                        try {
                            if (sender == Sender.COPY) {
                                for (ByteBuffer view : extent.byteBuffers()) {
                                    while (view.hasRemaining()) {
                                        copyOut.write(view);
                                    }
                                }
                            } else {
                                TestSyscalls.spliceFileToSocket(store.fd(), extent.offset(), size, spliceVia,
                                        spliceOut);
                            }
                        } finally {
                            extent.release(); // "the write completed"
                            writerDone.countDown();
                        }
                        return null;
                    });
                    long readerSeed = random.nextLong();
                    Future<byte[]> received = pool.submit(() -> slowRead(reader, size, writerDone, rewritten,
                            readSoFar, new SplittableRandom(readerSeed)));

                    // Free while the send is (probably) in flight.
                    if (random.nextBoolean()) {
                        LockSupport.parkNanos(random.nextInt(300_000));
                    }
                    extent.free();
                    Extent again = store.allocate(extent.capacity());
                    if (again == null) {
                        refused++; // draining: not reusable while the send holds its reference
                        awaitWriter(writerDone, writer, received);
                        again = store.allocate(extent.capacity());
                    } else {
                        assertEquals(Extent.State.FREE, extent.state(), "reused only after the last release");
                    }
                    assertNotNull(again, "reclaimed after the send's release");
                    assertEquals(extent.offset(), again.offset(), "the very same blocks");
                    awaitWriter(writerDone, writer, received);
                    inFlight += size - readSoFar.get();
                    byte[] garbage = new byte[size];
                    for (int i = 0; i < size; i++) {
                        garbage[i] = (byte) ~expected[i];
                    }
                    again.slice().copyFrom(MemorySegment.ofArray(garbage));
                    rewritten.countDown();

                    byte[] got = received.get(20, TimeUnit.SECONDS);
                    writer.get(20, TimeUnit.SECONDS);
                    int wrongThisRound = 0;
                    for (int i = 0; i < size; i++) {
                        if (got[i] != expected[i]) {
                            wrongThisRound++;
                        }
                    }
                    wrong += wrongThisRound;
                    corruptedRounds += wrongThisRound > 0 ? 1 : 0;
                    again.free();
                    for (Extent f : fillers) {
                        f.free();
                    }
                    store.reclaim();
                    assertEquals(store.capacity(), store.stats().freeBytes(), "round " + round + " left no residue");
                }
            } finally {
                if (copyClient != null) {
                    copyClient.close();
                }
                if (spliceClient >= 0) {
                    TestSyscalls.close(spliceClient);
                    TestSyscalls.close(pipe[0]);
                    TestSyscalls.close(pipe[1]);
                }
            }
            return new Result(wrong, corruptedRounds, inFlight, refused, store.stats().punches());
        }
    }

    /** Waits for the writer, surfacing a failure of either side instead of timing out on it. */
    private static void awaitWriter(CountDownLatch writerDone, Future<?> writer, Future<byte[]> reader)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!writerDone.await(10, TimeUnit.MILLISECONDS)) {
            if (reader.isDone()) {
                reader.get(); // throws the reader's failure
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("writer stuck");
            }
        }
        if (writer.isDone()) {
            writer.get();
        }
    }

    /**
     * Reads {@code size} bytes in small random chunks with pauses. Once the writer is done it waits until the owner has
     * rewritten the blocks, so everything still unread at that point was in flight during the rewrite.
     */
    private static byte[] slowRead(SocketChannel ch, int size, CountDownLatch writerDone, CountDownLatch rewritten,
                                   AtomicLong readSoFar, SplittableRandom random) throws IOException,
            InterruptedException {
        byte[] into = new byte[size];
        ByteBuffer buf = ByteBuffer.wrap(into);
        while (buf.position() < size) {
            if (writerDone.getCount() == 0 && !rewritten.await(20, TimeUnit.SECONDS)) {
                throw new IOException("owner never rewrote");
            }
            buf.limit(Math.min(size, buf.position() + 1 + random.nextInt(8192)));
            if (ch.read(buf) < 0) {
                throw new IOException("peer closed early");
            }
            readSoFar.set(buf.position());
            LockSupport.parkNanos(20_000);
        }
        return into;
    }
}
