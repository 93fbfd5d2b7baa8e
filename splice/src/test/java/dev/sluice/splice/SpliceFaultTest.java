package dev.sluice.splice;

import io.netty.channel.ChannelOption;
import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpliceFaultTest extends LoopTestBase {
    private static final long MS = 1_000_000L;

    private static void awaitTrue(String what, java.util.function.BooleanSupplier condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void transfer_sourceAbortsMidBody_prematureEofAfterForwardingWhatArrived() throws Exception {
        splicer();
        Rig rig = rig();
        long n = 1024 * 1024;
        Outcome o = new Outcome();
        CompletableFuture<Long> got = Rig.receive(rig.sink, 0, 300_000);
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o)));

        Bytes.write(rig.source.getOutputStream(), 0, 300_000, null);
        rig.source.close();
        Outcome.Result r = o.await();

        PrematureEofException eof = assertInstanceOf(PrematureEofException.class, r.cause());
        assertEquals(n, eof.expected());
        assertEquals(300_000, eof.received());
        assertEquals(300_000, r.moved());
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS), "the sink got every byte that arrived, in order");
        assertEquals(1, metrics.transfers(SpliceOutcome.PREMATURE_EOF));
        assertEquals(0, rig.recA.size());
    }

    @Test
    void transfer_sinkResetsMidBody_ioErrorWithErrno() throws Exception {
        splicer();
        Rig rig = rig();
        long n = 256L * 1024 * 1024;
        Outcome o = new Outcome();
        Rig.send(rig.source, 0, n); // fails once the middle closes a; ignored
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o)));

        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 1024 * 1024));
        rig.sink.setSoLinger(true, 0);
        rig.sink.close(); // RST
        Outcome.Result r = o.await();

        SpliceIoException io = assertInstanceOf(SpliceIoException.class, r.cause());
        assertTrue(io.errno() == Syscalls.ECONNRESET || io.errno() == Syscalls.EPIPE,
                () -> "errno " + io.errno() + ": " + io.getMessage());
        assertTrue(r.moved() >= 1024 * 1024 && r.moved() < n, () -> "moved " + r.moved());
        assertEquals(1, metrics.transfers(SpliceOutcome.ERROR));
        assertEquals(1, o.calls.get());
    }

    @Test
    void transfer_sourceSendsLessThenStalls_idleTimeoutFires() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        long t0 = System.nanoTime();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 5000, 300 * MS, o)));
        Bytes.write(rig.source.getOutputStream(), 0, 1000, null);

        Outcome.Result r = o.await();
        long elapsed = System.nanoTime() - t0;

        SpliceTimeoutException timeout = assertInstanceOf(SpliceTimeoutException.class, r.cause());
        assertEquals(300 * MS, timeout.idleTimeoutNanos());
        assertEquals(1000, r.moved());
        assertTrue(elapsed >= 300 * MS, () -> "fired after " + elapsed / MS + " ms");
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 1000));
        assertEquals(1, metrics.transfers(SpliceOutcome.TIMEOUT));
        assertTrue(metrics.eagainPollsIn() >= 1, "the stalled input was polled, not spun on");
        assertEquals(0, metrics.pipesInUse());
        // the proxy closes both channels now; the base class checks their fds are gone
    }

    @Test
    void transfer_slowReader_sourceBlocksWithinSocketAndPipeBounds() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long n = 24L * 1024 * 1024;
        AtomicLong written = new AtomicLong();
        CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
            try {
                Bytes.write(rig.source.getOutputStream(), 0, n, written);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, Rig.PEERS);
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o)));

        Thread.sleep(1500); // the sink reads nothing meanwhile
        long inFlight = written.get();

        assertTrue(inFlight < 6L * 1024 * 1024,
                () -> "bytes accepted from the source while the sink read nothing: " + inFlight);
        assertTrue(metrics.eagainPollsOut() >= 1, "the full output was polled for POLLOUT");
        assertEquals(1, metrics.pipesInUse());
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, n));
        assertNull(o.await().cause());
        sent.get(10, TimeUnit.SECONDS);
    }

    @Test
    void transfer_poolExhausted_returnsNullAndCountsFallback() throws Exception {
        splicer(SpliceSettings.defaults().withMaxPipes(1));
        Rig first = rig();
        Rig second = rig();
        Outcome o1 = new Outcome();
        SpliceTransfer t1 = Rig.onLoop(() -> splicer.transfer(first.a, first.b, 10, 0, o1));
        assertNotNull(t1);

        Outcome o2 = new Outcome();
        SpliceTransfer t2 = Rig.onLoop(() -> splicer.transfer(second.a, second.b, 10, 0, o2));

        assertNull(t2);
        assertEquals(FallbackReason.POOL_EXHAUSTED, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(1, metrics.fallbacks(FallbackReason.POOL_EXHAUSTED));
        assertEquals(1, metrics.fallbacksTotal());
        t1.cancel();
        assertInstanceOf(SpliceCancelledException.class, o1.await().cause());
        // the pipe is back: the second pair can splice now
        Rig.send(second.source, 0, 10);
        Outcome o3 = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(second.a, second.b, 10, 0, o3)));
        assertNull(o3.await().cause());
        assertEquals(-1L, Bytes.readAndVerify(second.sink.getInputStream(), 0, 10));
        assertEquals(1, metrics.pipesCreated());
    }

    @Test
    void cancel_whileWaitingForInput_callbackOnceAfterInFlightOpsComplete() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 1000, 0, o));
        awaitTrue("a POLLIN on the idle input", () -> metrics.eagainPollsIn() >= 1);

        t.cancel(); // from a foreign thread: hops to the loop
        t.cancel();
        Outcome.Result r = o.await();
        Thread.sleep(100);

        assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertTrue(r.onLoop());
        assertEquals(1, o.calls.get(), "callback calls");
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
        assertEquals(1, Rig.onLoop(splicer::idlePipes), "the clean pipe went back to the pool");
        assertEquals(1, metrics.transfers(SpliceOutcome.CANCELLED));
        // the input is intact: Netty reads what the source sends next
        rig.source.getOutputStream().write(new byte[] {1, 2, 3});
        Rig.onLoop(() -> rig.a.read());
        awaitTrue("Netty reading a after the cancel", () -> rig.recA.size() == 3);
    }

    @Test
    void cancel_outputBlockedWithBytesInPipe_pipeDrainedAndReusedClean() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(false, 64 * 1024));
        long n = 16L * 1024 * 1024;
        Rig.send(rig.source, 0, n);
        Outcome o = new Outcome();
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, n, 0, o));
        awaitTrue("the output to fill up", () -> metrics.eagainPollsOut() >= 1);
        Thread.sleep(50);

        t.cancel();
        Outcome.Result r = o.await();

        assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertTrue(r.moved() < n);
        assertEquals(0, metrics.pipesDiscarded(), "the leftover bytes were drained, the pipe kept");
        assertEquals(1, Rig.onLoop(splicer::idlePipes));
        // a new connection pair gets the same pipe and sees none of the old bytes
        Rig fresh = rig();
        CompletableFuture<Long> got = Rig.receive(fresh.sink, 5_000_000, 1_000_000);
        Rig.send(fresh.source, 5_000_000, 1_000_000);
        Outcome o2 = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(fresh.a, fresh.b, 1_000_000, 0, o2)));
        assertNull(o2.await().cause());
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS));
        assertEquals(1, metrics.pipesCreated());
    }

    @Test
    void close_inputChannelClosedMidTransfer_callbackCancelled() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 1000, 0, o)));
        awaitTrue("a POLLIN on the idle input", () -> metrics.eagainPollsIn() >= 1);

        Rig.onLoop(() -> rig.a.close());
        Outcome.Result r = o.await();

        SpliceCancelledException c = assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertTrue(c.getMessage().contains("input channel closed"), c.getMessage());
        assertEquals(1, o.calls.get());
        assertEquals(0, metrics.pipesInUse());
    }

    @Test
    void transfer_afterPeerHalfClosedAndNettyReadIt_returnsNullPeerClosing() throws Exception {
        splicer();
        Rig rig = rig(new Rig.Options(true, 0));
        Bytes.write(rig.source.getOutputStream(), 0, 100, null);
        rig.source.shutdownOutput();
        // Netty's POLLRDHUP fires and Netty reads the rest itself, AUTO_READ or not.
        awaitTrue("Netty reading after the peer's FIN", () -> rig.recA.size() == 100);

        Outcome o = new Outcome();
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 100, 0, o));

        assertNull(t);
        assertEquals(FallbackReason.PEER_CLOSING, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(1, metrics.fallbacks(FallbackReason.PEER_CLOSING));
    }

    @Test
    void transfer_autoReadOn_returnsNullChannelFallback() throws Exception {
        splicer();
        Rig rig = rig();
        Rig.onLoop(() -> rig.b.config().setOption(ChannelOption.AUTO_READ, true));

        assertNull(Rig.onLoop(() -> splicer.transfer(rig.a, rig.b, 10, 0, new Outcome())));
        assertEquals(FallbackReason.CHANNEL, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(false, Splicer.canSplice(rig.b));
        assertEquals(true, Splicer.canSplice(rig.a));
    }

    @Test
    void transfer_offTheLoop_throwsIllegalState() throws Exception {
        splicer();
        Rig rig = rig();

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> splicer.transfer(rig.a, rig.b, 10, 0, new Outcome()));
        assertTrue(e.getMessage().contains("confined"), e.getMessage());
    }

    @Test
    void close_splicerWhileTransferRunning_cancelsAndClosesPipes() throws Exception {
        Splicer s = splicer();
        Rig rig = rig();
        Outcome o = new Outcome();
        assertNotNull(Rig.onLoop(() -> s.transfer(rig.a, rig.b, 1000, 0, o)));
        awaitTrue("a POLLIN on the idle input", () -> metrics.eagainPollsIn() >= 1);

        Rig.onLoop(s::close);
        Outcome.Result r = o.await();

        assertInstanceOf(SpliceCancelledException.class, r.cause());
        assertEquals(0, metrics.pipesOpen());
        assertEquals(0, metrics.pipesMax());
        assertNull(Rig.onLoop(() -> s.transfer(rig.a, rig.b, 10, 0, new Outcome())));
        assertEquals(FallbackReason.CLOSED, Rig.onLoop(s::lastFallbackReason));
        Splicer next = splicer();
        assertNotSame(s, next);
    }

    @Test
    void transfer_noFdForAPipe_returnsNullWithFdLimit() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome o = new Outcome();

        // RLIMIT_NOFILE of 3 for the instant of the call: pipe2 gets EMFILE, as under a real fd shortage.
        SpliceTransfer t = Rig.onLoop(() -> {
            Rlimit lowered = Rlimit.lowerNoFile(3);
            try {
                return splicer.transfer(rig.a, rig.b, 10, 0, o);
            } finally {
                lowered.close();
            }
        });

        assertNull(t);
        assertEquals(FallbackReason.FD_LIMIT, Rig.onLoop(splicer::lastFallbackReason));
        assertEquals(1, metrics.fallbacks(FallbackReason.FD_LIMIT));
        assertEquals(0, metrics.pipesOpen());
        assertEquals(FallbackReason.PIPE_LIMIT, PipePool.reasonFor(Syscalls.EPERM));
        assertEquals(FallbackReason.FD_LIMIT, PipePool.reasonFor(Syscalls.ENFILE));
    }

    @Test
    void bytes_readAndVerify_detectsCorruptionAndShortStreams() throws Exception {
        // The harness must be able to fail: a flipped byte and a short stream are caught.
        byte[] data = Bytes.of(100, 5000);
        data[1234] ^= 1;
        assertEquals(100 + 1234, Bytes.readAndVerify(new java.io.ByteArrayInputStream(data), 100, 5000));
        assertThrows(EOFException.class,
                () -> Bytes.readAndVerify(new java.io.ByteArrayInputStream(Bytes.of(0, 10)), 0, 11));
    }
}
