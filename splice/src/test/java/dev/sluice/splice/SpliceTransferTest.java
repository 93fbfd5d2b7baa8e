package dev.sluice.splice;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpliceTransferTest extends LoopTestBase {

    /** The reverse direction: the sink writes, b -> a splices, the source verifies. */
    private Outcome.Result spliceBtoA(Rig rig, long from, long n) throws Exception {
        return splice(rig.sink, rig.b, rig.a, rig.source, "source", from, n).result();
    }

    /** After a splice the sockets belong to Netty again: it reads the next bytes and writes its own. */
    private static void assertNettyOwnsSockets(Rig rig) throws Exception {
        byte[] next = "next request".getBytes();
        rig.source.getOutputStream().write(next);
        rig.source.getOutputStream().flush();
        Rig.onLoop(() -> rig.a.read());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (rig.recA.size() < next.length && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertArrayEquals(next, rig.recA.bytes(), "what Netty read on a after the splice");
        byte[] reply = "netty writes".getBytes();
        Rig.onLoop(() -> rig.b.writeAndFlush(Rig.buf(reply))).sync();
        assertArrayEquals(reply, rig.sink.getInputStream().readNBytes(reply.length), "what the sink got from Netty");
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 4095, 65536, 1024 * 1024 + 1})
    void transfer_size_byteExactAndSocketsHandedBack(long size) throws Exception {
        splicer();
        Rig rig = rig();

        Outcome.Result r = spliceAtoB(rig, 0, size);

        assertNull(r.cause());
        assertEquals(size, r.moved());
        assertEquals(0, rig.recA.size(), "Netty must not have read any body byte");
        assertEquals(size, metrics.bytesSpliced());
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        assertEquals(0, metrics.pipesInUse());
        assertNettyOwnsSockets(rig);
    }

    @Test
    void transfer_256MiB_byteExact() throws Exception {
        splicer();
        Rig rig = rig();
        long n = 256L * 1024 * 1024;

        long t0 = System.nanoTime();
        Outcome.Result r = spliceAtoB(rig, 0, n);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertEquals(n, metrics.bytesSpliced());
        assertEquals(1, metrics.pipesCreated(), "one pipe, reused for every chunk");
        System.out.printf("256 MiB spliced in %d ms, %d EAGAIN polls in, %d out%n", ms, metrics.eagainPollsIn(),
                metrics.eagainPollsOut());
    }

    @Test
    void transfer_sequentialKeepAliveBothDirections_byteExactPipeReusedThenNettyReadsAndWrites() throws Exception {
        splicer();
        Rig rig = rig();
        long pos = 0;
        for (long n : new long[] {4095, 65536, 1024 * 1024 + 1}) {
            assertNull(spliceAtoB(rig, pos, n).cause());
            pos += n;
        }
        long back = 0;
        for (long n : new long[] {1, 300_000}) {
            assertNull(spliceBtoA(rig, back, n).cause());
            back += n;
        }

        assertEquals(pos + back, metrics.bytesSpliced());
        assertEquals(1, metrics.pipesCreated(), "sequential transfers reuse one pipe");
        assertEquals(1, Rig.onLoop(splicer::idlePipes));
        assertEquals(5, metrics.transfers(SpliceOutcome.COMPLETED));
        assertNettyOwnsSockets(rig);
        // and the other way round: Netty reads b and writes a
        rig.sink.getOutputStream().write(7);
        Rig.onLoop(() -> rig.b.read());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (rig.recB.size() < 1 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertArrayEquals(new byte[] {7}, rig.recB.bytes());
    }

    /**
     * An owner that always keeps a read armed (a pooled upstream connection) turns the re-arming of Netty's POLLRDHUP
     * off: after each transfer it stays off on that socket, so the next transfer needs no ASYNC_CANCEL for it. Reads
     * still see the next bytes and the peer's EOF.
     */
    @Test
    void leaveRdHupOff_inputKeepsNettysPollOff_readsStillSeeBytesAndEof() throws Exception {
        splicer();
        Rig rig = rig();
        Rig.onLoop(() -> {
            Splicer.leaveRdHupOff(rig.a);
            return null;
        });
        long pos = 0;
        // bodies long enough that Netty has seen its cancelled POLLRDHUP before the transfer ends (without the
        // switch the input's is re-armed then; a transfer that ends in the loop turn it started in finds Netty's
        // poll not yet retired and cannot re-arm it anyway)
        for (long n : new long[] {1024 * 1024 + 1, 4L << 20}) {
            assertNull(spliceAtoB(rig, pos, n).cause());
            pos += n;
            assertEquals(0L, Rig.onLoop(() -> NettyUring.pollRdhupId(rig.a)), "Netty's POLLRDHUP on the input");
            assertFalse(Rig.onLoop(() -> NettyUring.rdhupScheduled(rig.a)));
        }
        assertEquals(pos, metrics.bytesSpliced());
        assertNettyOwnsSockets(rig);
        // with no POLLRDHUP, the owner's read is what sees the peer leave
        rig.source.close();
        Rig.onLoop(() -> rig.a.read());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (rig.a.isActive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertFalse(rig.a.isActive(), "EOF seen by Netty's read");
    }

    @Test
    void transfer_sourceClosesRightAfterBody_allBytesSplicedNoneReadByNetty() throws Exception {
        splicer();
        Rig rig = rig();
        long n = 3 * 1024 * 1024 + 17;
        Outcome o = new Outcome();
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, n);
        // Start the splice first, then let the origin send the body and its FIN at once ("Connection: close"):
        // Netty's POLLRDHUP would otherwise fire and make Netty read the tail of the body itself.
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o));
        assertNotNull(t);
        Bytes.write(rig.source.getOutputStream(), 0, n, null);
        rig.source.shutdownOutput();

        Outcome.Result r = o.await();

        assertNull(r.cause());
        assertEquals(n, r.moved());
        assertEquals(-1L, got.get(30, TimeUnit.SECONDS));
        Thread.sleep(100);
        assertEquals(0, rig.recA.size(), "bytes Netty read from under the splice");
    }

    @Test
    void transfer_zeroBytes_callbackRunsLaterOnLoopWithoutPipe() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();

        boolean ranInside = Rig.onLoop(() -> {
            splicer.transfer(rig.a, rig.b, 0, 0, o);
            return o.calls.get() > 0;
        });

        assertTrue(!ranInside, "callback must not run inside transfer()");
        assertNull(o.await().cause());
        assertEquals(0, metrics.pipesCreated());
    }
}
