package dev.sluice.splice;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shared lifecycle: every test records the process's open fd count first and, after closing its rigs and its
 * splicer, waits (briefly: Netty closes fds through io_uring) until the count is back at or below that baseline.
 */
abstract class LoopTestBase {
    private static boolean warmedUp;

    final SpliceMetrics metrics = new SpliceMetrics();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private long fdBaseline;
    Splicer splicer;

    @BeforeEach
    void recordFdBaseline() throws Exception {
        warmUp();
        fdBaseline = Rig.openFds();
    }

    /** Loads every class and jar the tests touch once, so lazily opened jar fds do not move the baseline. */
    private static synchronized void warmUp() throws Exception {
        if (warmedUp) {
            return;
        }
        warmedUp = true;
        SpliceMetrics m = new SpliceMetrics();
        m.bindTo(new SimpleMeterRegistry(), List.of());
        try (Rig rig = Rig.open()) {
            Splicer s = Rig.onLoop(() -> Splicer.forLoop(Rig.LOOP, SpliceSettings.defaults(), m));
            Outcome o = new Outcome();
            Rig.send(rig.source, 0, 100_000);
            var got = Rig.receive(rig.sink, 0, 100_000);
            Rig.onLoop(() -> s.transfer(rig.a, rig.b, 100_000, 0, o));
            o.await();
            got.get();
            Outcome p = new Outcome();
            Rig.onLoop(() -> s.pump(rig.a, rig.b, 0, p));
            rig.source.shutdownOutput();
            p.await();
            Rig.onLoop(s::close);
        }
        new PrematureEofException(1, 0).getMessage();
        new SpliceTimeoutException(1, 0).getMessage();
        new SpliceIoException("x", 1).getMessage();
        new SpliceRefusedException(FallbackReason.CLOSED).getMessage();
        Thread.sleep(200);
    }

    Splicer splicer(SpliceSettings settings) {
        splicer = Rig.onLoop(() -> Splicer.forLoop(Rig.LOOP, settings, metrics));
        return splicer;
    }

    Splicer splicer() {
        return splicer(SpliceSettings.defaults());
    }

    /** A finished transfer of stream bytes [from, from + n): the transfer, its callback count and result. */
    record Spliced(SpliceTransfer transfer, Outcome outcome, Outcome.Result result) {
    }

    /**
     * {@code writer} sends stream bytes [from, from + n), {@code in -> out} splices them, {@code reader} verifies
     * them ({@code readerName} names it in the mismatch message).
     */
    Spliced splice(Socket writer, io.netty.channel.Channel in, io.netty.channel.Channel out, Socket reader,
                   String readerName, long from, long n) throws Exception {
        CompletableFuture<Void> sent = Rig.send(writer, from, n);
        CompletableFuture<Long> got = Rig.receive(reader, from, n);
        Outcome o = new Outcome();
        SpliceTransfer t = Rig.onLoop(() -> splicer.transfer(in, out, n, 0, o));
        assertNotNull(t, () -> "fallback: " + splicer.lastFallbackReason());
        Outcome.Result r = o.await();
        sent.get(30, TimeUnit.SECONDS);
        assertEquals(-1L, got.get(30, TimeUnit.SECONDS), "first mismatching byte at the " + readerName);
        return new Spliced(t, o, r);
    }

    /** Splices {@code n} stream bytes starting at {@code from} from the source to the sink through a -> b. */
    Outcome.Result spliceAtoB(Rig rig, long from, long n) throws Exception {
        Spliced s = splice(rig.source, rig.a, rig.b, rig.sink, "sink", from, n);
        Outcome o = s.outcome();
        Outcome.Result r = s.result();
        SpliceTransfer t = s.transfer();
        assertEquals(1, o.calls.get(), "callback calls");
        assertTrue(r.onLoop(), "callback ran on the event loop");
        assertEquals(n, t.bytesMoved());
        assertTrue(t.isDone());
        return r;
    }

    Rig rig() throws Exception {
        return track(Rig.open());
    }

    Rig rig(Rig.Options o) throws Exception {
        return track(Rig.open(o));
    }

    <T extends AutoCloseable> T track(T c) {
        closeables.add(c);
        return c;
    }

    @AfterEach
    void closeAndCheckFds() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        if (splicer != null) {
            Splicer s = splicer;
            Rig.onLoop(s::close);
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        long now = Rig.openFds();
        while (now > fdBaseline && System.nanoTime() < deadline) {
            Thread.sleep(20);
            now = Rig.openFds();
        }
        assertTrue(now <= fdBaseline, "open fds " + now + " did not return to the baseline " + fdBaseline);
    }
}
