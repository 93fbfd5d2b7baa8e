package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExtentSendTest extends LoopTestBase {

    private Segments segments(long bytes, boolean heap) {
        ShmBuilder b = ShmBuilder.newBuilder().totalBytes(bytes).loops(1).populate(false).lockPolicy(LockPolicy.OFF)
                .name("splice-test");
        return track(heap ? b.heap().build() : b.build());
    }

    /** An extent whose bytes are stream bytes [0, length). */
    static Extent filled(Store store, long length) {
        Extent e = store.allocate(length);
        assertNotNull(e, "allocation");
        int chunk = 1 << 20;
        byte[] buf = new byte[chunk];
        for (long done = 0; done < length; done += chunk) {
            int len = (int) Math.min(chunk, length - done);
            Bytes.fill(done, buf, 0, len);
            e.slice().asSlice(done, len).copyFrom(MemorySegment.ofArray(buf).asSlice(0, len));
        }
        return e;
    }

    private static void awaitRefs(Extent e, int refs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (e.refCnt() != refs && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(refs, e.refCnt(), "extent references after the send");
    }

    @ParameterizedTest
    @EnumSource(SendMechanism.class)
    void send_mechanism_byteExactCountedAndExtentReleased(SendMechanism mechanism) throws Exception {
        splicer();
        Rig rig = rig();
        Store store = segments(16L << 20, false).store(0);
        long size = 3L * 1024 * 1024 + 5;
        Extent e = filled(store, size);
        long pos = 1000;
        long len = size - 2000;
        CompletableFuture<Long> got = Rig.receive(rig.sink, pos, len);
        Outcome o = new Outcome();

        SpliceTransfer t = Rig.onLoop(() -> splicer.send(e, pos, len, rig.b, mechanism, 0, o));
        Outcome.Result r = o.await();

        assertNotNull(t);
        assertNull(r.cause());
        assertEquals(len, r.moved());
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS), "first mismatching byte at the sink");
        assertEquals(len, metrics.sendBytes(mechanism));
        assertEquals(1, metrics.sends(mechanism));
        assertEquals(0, metrics.fallbacksTotal());
        assertEquals(mechanism == SendMechanism.SPLICE || mechanism == SendMechanism.SENDFILE, e.isSpliced(),
                "only a splice or a sendfile marks the extent");
        awaitRefs(e, 0);
        if (mechanism == SendMechanism.SEND_ZC) {
            // on loopback the kernel copies anyway, and the notification says so
            assertTrue(metrics.sendZcCopied() >= 1, () -> "copied notifications: " + metrics.sendZcCopied());
        }
        // Netty still owns the socket: its own write goes through after ours
        byte[] tail = "tail".getBytes();
        Rig.onLoop(() -> rig.b.writeAndFlush(Rig.buf(tail))).sync();
        assertArrayEquals(tail, rig.sink.getInputStream().readNBytes(tail.length));
        e.free();
    }

    @Test
    void send_spliceFromBeyond2GiB_byteExact() throws Exception {
        splicer();
        Rig rig = rig();
        // Sparse memfd: only the pages written below are ever allocated.
        Store store = segments((2L << 30) + (8L << 20), false).store(0);
        Extent low = store.allocate(2L << 30);
        assertNotNull(low);
        long len = 4L * 1024 * 1024 + 3;
        Extent high = filled(store, len);
        assertTrue(high.offset() >= (2L << 30), () -> "offset " + high.offset());
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, len);
        Outcome o = new Outcome();

        Rig.onLoop(() -> splicer.send(high, 0, len, rig.b, SendMechanism.SPLICE, 0, o));

        assertNull(o.await().cause());
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS));
        assertEquals(len, metrics.sendBytes(SendMechanism.SPLICE));
        awaitRefs(high, 0);
        high.free();
        low.free();
    }

    @Test
    void send_heapStoreAskedToSplice_fallsBackToWriteAndCountsIt() throws Exception {
        splicer();
        Rig rig = rig();
        Store store = segments(4L << 20, true).store(0);
        long len = 100_000;
        Extent e = filled(store, len);
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, len);
        Outcome o = new Outcome();

        Rig.onLoop(() -> splicer.send(e, 0, len, rig.b, SendMechanism.SPLICE, 0, o));

        assertNull(o.await().cause());
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS));
        assertEquals(FallbackReason.NO_ZERO_COPY_SOURCE, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(1, metrics.fallbacks(FallbackReason.NO_ZERO_COPY_SOURCE));
        assertEquals(len, metrics.sendBytes(SendMechanism.WRITE));
        assertEquals(0, metrics.sendBytes(SendMechanism.SPLICE));
        awaitRefs(e, 0);
        e.free();
    }

    @Test
    void send_sinkResetsDuringSplice_ioErrorAndExtentReleased() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        Store store = segments(64L << 20, false).store(0);
        long len = 48L * 1024 * 1024;
        Extent e = filled(store, len);
        Outcome o = new Outcome();
        Rig.onLoop(() -> splicer.send(e, 0, len, rig.b, SendMechanism.SPLICE, 0, o));
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 1024 * 1024));

        rig.sink.setSoLinger(true, 0);
        rig.sink.close();
        Outcome.Result r = o.await();

        SpliceIoException io = assertInstanceOf(SpliceIoException.class, r.cause());
        assertTrue(io.errno() == Syscalls.ECONNRESET || io.errno() == Syscalls.EPIPE, io::getMessage);
        assertTrue(r.moved() < len);
        awaitRefs(e, 0);
        assertEquals(0, metrics.pipesInUse());
        e.free();
    }

    @Test
    void send_sendZcToStalledSink_idleTimeoutFiresAndExtentReleased() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        Store store = segments(64L << 20, false).store(0);
        long len = 32L * 1024 * 1024;
        Extent e = filled(store, len);
        Outcome o = new Outcome();

        Rig.onLoop(() -> splicer.send(e, 0, len, rig.b, SendMechanism.SEND_ZC, 200_000_000L, o));
        Outcome.Result r = o.await(); // the sink never reads

        assertInstanceOf(SpliceTimeoutException.class, r.cause());
        assertTrue(r.moved() < len);
        assertEquals(1, e.refCnt(), "the kernel may still read the pages until the notification");
        // The proxy closes the channel on a timeout; b's unsent skbs (our pages) live on in FIN_WAIT1 until the
        // peer goes too, so the notification, and the release, come only then.
        Rig.onLoop(() -> rig.b.close()).sync();
        Thread.sleep(100);
        assertEquals(1, e.refCnt(), "released while skbs may still point at the pages");
        rig.sink.close(); // unread data: RST, b's queue is purged
        awaitRefs(e, 0);
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        e.free();
    }

    @Test
    void send_rangeOutsideExtent_throwsAndTakesNoReference() throws Exception {
        splicer();
        Rig rig = rig();
        Store store = segments(4L << 20, false).store(0);
        Extent e = filled(store, 4096);

        Throwable thrown = Rig.onLoop(() -> {
            try {
                splicer.send(e, 4000, 100, rig.b, SendMechanism.WRITE, 0, new Outcome());
                return null;
            } catch (IllegalArgumentException iae) {
                return iae;
            }
        });

        IllegalArgumentException ex = assertInstanceOf(IllegalArgumentException.class, thrown);
        assertTrue(ex.getMessage().contains("4000") && ex.getMessage().contains("4096"), ex.getMessage());
        assertEquals(0, e.refCnt());
        e.free();
    }
}
