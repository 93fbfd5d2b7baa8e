package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SendMechanism#SENDFILE} through real loopback sockets, every byte checked against the stream of
 * {@link Bytes}: regions of 1 B to 64 MiB at odd offsets into an extent that does not start the store, to a reader
 * that keeps up and to one that reads in small bites with pauses (so the socket fills, sendfile comes back short or
 * with EAGAIN, and the send waits for POLLOUT); and the ways a send ends early. The reuse race (extent freed, its
 * blocks rewritten in flight) is {@link SendReuseCorruptionTest}'s, the fallbacks to WRITE are in
 * {@link SendFallbackTest}.
 */
class SendfileSendTest extends LoopTestBase {
    /** Bytes before the region inside its extent, and after it: odd, so file offsets are never page-aligned. */
    private static final int PAD = 4093;
    /** Blocks allocated before the extent, so its offset in the store (and file) is not 0. */
    private static final long FILLER = 3 * 4096;

    enum Reader { FAST, SLOW }

    private Segments segments(long bytes) {
        return track(ShmBuilder.newBuilder().totalBytes(bytes).loops(1).populate(false).lockPolicy(LockPolicy.OFF)
                .name("sendfile-test").build());
    }

    /** An extent at a non-zero store offset holding stream bytes [0, PAD + len + PAD). */
    private Extent extentFor(long len) {
        Store store = segments(len + (4L << 20)).store(0);
        assertNotNull(store.allocate(FILLER));
        Extent e = ExtentSendTest.filled(store, PAD + len + PAD);
        assertTrue(e.offset() >= FILLER, () -> "extent offset " + e.offset());
        return e;
    }

    static Stream<Arguments> regions() {
        return Stream.of(1L, 64L << 10, 1L << 20, 64L << 20)
                .flatMap(len -> Stream.of(Reader.values()).map(r -> Arguments.of(len, r)));
    }

    @ParameterizedTest(name = "{0} bytes, {1} reader")
    @MethodSource("regions")
    void sendfile_regionAtOddOffset_everyByteArrivesAndExtentReleasedBeforeCallback(long len, Reader reader)
            throws Exception {
        splicer();
        Rig rig = reader == Reader.SLOW ? rig(new Rig.Options(false, 64 * 1024)) : rig();
        Extent e = extentFor(len);
        CompletableFuture<Long> got = reader == Reader.SLOW
                ? receiveSlowly(rig.sink, PAD, len, len)
                : Rig.receive(rig.sink, PAD, len);
        Outcome o = new Outcome();
        int[] refsAtCallback = {-1};
        SpliceCallback cb = (moved, cause) -> {
            refsAtCallback[0] = e.refCnt();
            o.done(moved, cause);
        };

        SpliceTransfer t = Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, 0, cb));
        // The bytes first: a reader that found a wrong one stops reading, and the send would wait for it forever.
        assertEquals(-1L, got.get(60, TimeUnit.SECONDS), "first mismatching byte at the sink");
        Outcome.Result r = o.await();

        assertNull(r.cause());
        assertEquals(len, r.moved());
        assertTrue(r.onLoop(), "callback on the loop");
        assertEquals(1, o.calls.get());
        assertEquals(len, t.bytesMoved());
        assertTrue(t.isDone());
        assertEquals(0, refsAtCallback[0], "the extent is released when the last sendfile returned, before the callback");
        assertTrue(e.isSpliced(), "marked for punching before reuse");
        assertEquals(len, metrics.sendBytes(SendMechanism.SENDFILE));
        assertEquals(1, metrics.sends(SendMechanism.SENDFILE));
        assertEquals(0, metrics.sendBytes(SendMechanism.WRITE));
        assertEquals(0, metrics.fallbacksTotal());
        assertEquals(1, metrics.transfers(SpliceOutcome.COMPLETED));
        assertEquals(0, metrics.pipesCreated(), "sendfile needs no pipe of ours");
        if (reader == Reader.SLOW && len >= (1L << 20)) {
            assertTrue(metrics.eagainPollsOut() > 0, "a slow reader fills the socket: the send waited for POLLOUT");
        }
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        // Netty still owns the socket: its own write goes through after ours
        byte[] tail = "tail".getBytes();
        Rig.onLoop(() -> rig.b.writeAndFlush(Rig.buf(tail))).sync();
        assertArrayEquals(tail, rig.sink.getInputStream().readNBytes(tail.length));
        e.free();
    }

    /** The sink reads 1 MiB of a 48 MiB send and stops; then it leaves. */
    enum Leaving { RESET, HALF_CLOSE }

    @ParameterizedTest
    @EnumSource(Leaving.class)
    void sendfile_peerLeavesMidSend_failureReportedExtentReleasedNothingLeaks(Leaving how) throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long len = 48L << 20;
        Extent e = extentFor(len);
        Outcome o = new Outcome();
        Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, 0, o));
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), PAD, 1 << 20));
        awaitPollOut(); // the send is waiting for the socket, not between two calls

        if (how == Leaving.RESET) {
            rig.sink.setSoLinger(true, 0);
            rig.sink.close();
        } else {
            rig.sink.shutdownOutput(); // FIN: Netty's POLLRDHUP fires, it reads EOF and closes b (no half-closure)
        }
        Outcome.Result r = o.await();

        if (how == Leaving.RESET) {
            SpliceIoException io = assertInstanceOf(SpliceIoException.class, r.cause());
            assertTrue(io.errno() == Syscalls.ECONNRESET || io.errno() == Syscalls.EPIPE, io::getMessage);
            assertEquals(1, metrics.transfers(SpliceOutcome.ERROR));
        } else {
            assertInstanceOf(SpliceCancelledException.class, r.cause());
            assertFalse(rig.b.isOpen(), "Netty closed the channel on the peer's FIN");
            assertEquals(1, metrics.transfers(SpliceOutcome.CANCELLED));
        }
        assertTrue(r.moved() >= (1 << 20) && r.moved() < len, () -> "moved " + r.moved());
        assertEquals(1, o.calls.get());
        assertEquals(0, e.refCnt(), "released before the callback");
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        assertEquals(0, metrics.pipesCreated());
        assertEquals(0, metrics.pipesInUse());
        e.free();
        // (the fd count returning to its baseline is checked after every test)
    }

    @Test
    void sendfile_cancelledWhileWaitingForTheSocket_exactlyTheMovedBytesArrive() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long len = 32L << 20;
        Extent e = extentFor(len);
        Outcome o = new Outcome();
        SpliceTransfer t = Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, 0, o));
        awaitPollOut();

        t.cancel(); // from this thread: cancel is safe from any thread
        Outcome.Result r = o.await();

        assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertTrue(r.moved() > 0 && r.moved() < len, () -> "moved " + r.moved());
        assertEquals(1, o.calls.get());
        assertEquals(0, e.refCnt());
        assertEquals(1, metrics.transfers(SpliceOutcome.CANCELLED));
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        assertDeliveredExactly(rig.sink, r.moved());
        t.cancel(); // idempotent: no second callback
        Thread.sleep(50);
        assertEquals(1, o.calls.get());
        e.free();
    }

    @Test
    void sendfile_readerStalls_idleTimeoutFailsItAndReleasesTheExtentAtOnce() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long len = 32L << 20;
        Extent e = extentFor(len);
        Outcome o = new Outcome();
        long idle = TimeUnit.MILLISECONDS.toNanos(200);
        long started = System.nanoTime();

        Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, idle, o));
        Outcome.Result r = o.await(); // the sink never reads

        long took = System.nanoTime() - started;
        SpliceTimeoutException timeout = assertInstanceOf(SpliceTimeoutException.class, r.cause());
        assertEquals(idle, timeout.idleTimeoutNanos());
        assertTrue(took >= idle, () -> "failed after " + took + " ns");
        assertTrue(r.moved() > 0 && r.moved() < len);
        // Unlike SEND_ZC there is no notification to wait for: the punch covers what the socket still holds.
        assertEquals(0, e.refCnt());
        assertEquals(1, metrics.transfers(SpliceOutcome.TIMEOUT));
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        assertDeliveredExactly(rig.sink, r.moved());
        e.free();
    }

    @Test
    void sendfile_slowButSteadyReader_idleTimeoutDoesNotFire() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long len = 4L << 20;
        Extent e = extentFor(len);
        long idle = TimeUnit.MILLISECONDS.toNanos(250);
        CompletableFuture<Long> got = CompletableFuture.supplyAsync(() -> {
            try {
                InputStream in = rig.sink.getInputStream();
                byte[] buf = new byte[4096];
                byte[] want = new byte[4096];
                for (long done = 0; done < len; ) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, len - done));
                    if (n < 0) {
                        return done; // reported as a mismatch position
                    }
                    Bytes.fill(PAD + done, want, 0, n);
                    if (Arrays.mismatch(buf, 0, n, want, 0, n) >= 0) {
                        return done;
                    }
                    done += n;
                    LockSupport.parkNanos(400_000); // ~0.5 s for the whole region: longer than the idle timeout
                }
                return -1L;
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
        }, Rig.PEERS);
        Outcome o = new Outcome();
        long started = System.nanoTime();

        Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, idle, o));
        Outcome.Result r = o.await();

        assertNull(r.cause(), () -> "after " + (System.nanoTime() - started) / 1_000_000 + " ms: " + r.cause());
        assertTrue(System.nanoTime() - started > idle, "the send outlasted its idle timeout");
        assertEquals(-1L, got.get(30, TimeUnit.SECONDS));
        e.free();
    }

    @Test
    void sendfile_splicerClosedMidSend_cancelled() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long len = 32L << 20;
        Extent e = extentFor(len);
        Outcome o = new Outcome();
        Rig.onLoop(() -> splicer.send(e, PAD, len, rig.b, SendMechanism.SENDFILE, 0, o));
        awaitPollOut();

        Rig.onLoop(splicer::close);
        Outcome.Result r = o.await();

        assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertEquals(0, e.refCnt());
        assertDeliveredExactly(rig.sink, r.moved());
        e.free();
    }

    /** Waits until a sendfile found the socket full and armed its POLLOUT. */
    private void awaitPollOut() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (metrics.eagainPollsOut() == 0) {
            assertTrue(System.nanoTime() < deadline, "the send never waited for the socket");
            Thread.sleep(5);
        }
    }

    /** The sink holds exactly stream bytes [PAD, PAD + moved): nothing wrong, nothing more. */
    private static void assertDeliveredExactly(Socket sink, long moved) throws IOException {
        assertEquals(-1L, Bytes.readAndVerify(sink.getInputStream(), PAD, moved), "first mismatching byte");
        sink.setSoTimeout(200);
        assertThrows(SocketTimeoutException.class, () -> sink.getInputStream().read(),
                "no byte beyond the ones the callback reported");
    }

    /**
     * Reads and verifies stream bytes [from, from + n) in random bites of 1 B to 16 KiB with short pauses, so the
     * sender's socket keeps filling up; completes with -1 or the position of the first wrong byte.
     */
    static CompletableFuture<Long> receiveSlowly(Socket peer, long from, long n, long seed) {
        return CompletableFuture.supplyAsync(() -> {
            SplittableRandom random = new SplittableRandom(seed);
            byte[] got = new byte[16 * 1024];
            byte[] want = new byte[got.length];
            try {
                InputStream in = peer.getInputStream();
                for (long done = 0; done < n; ) {
                    int len = in.read(got, 0, (int) Math.min(1 + random.nextInt(got.length), n - done));
                    if (len < 0) {
                        throw new IOException("EOF after " + done + " of " + n + " bytes");
                    }
                    Bytes.fill(from + done, want, 0, len);
                    int mismatch = Arrays.mismatch(got, 0, len, want, 0, len);
                    if (mismatch >= 0) {
                        return from + done + mismatch;
                    }
                    done += len;
                    LockSupport.parkNanos(random.nextInt(40_000));
                }
                return -1L;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, Rig.PEERS);
    }
}
