package dev.sluice.splice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PumpTest extends LoopTestBase {

    @Test
    void pump_bothDirectionsUntilHalfClose_bytesReportedAndOutputsShutDown() throws Exception {
        splicer();
        Rig rig = rig();
        long x = 2L * 1024 * 1024 + 3;
        long y = 700_001;
        Outcome up = new Outcome();
        Outcome down = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.pump(rig.a, rig.b, 0, up)));
        assertNotNull(Rig.onLoop(() -> splicer.pump(rig.b, rig.a, 0, down)));
        assertEquals(2, metrics.pipesInUse());

        // client -> server, then the client half-closes
        Bytes.write(rig.source.getOutputStream(), 0, x, null);
        rig.source.shutdownOutput();
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, x));
        assertEquals(-1, rig.sink.getInputStream().read(), "the sink sees EOF: b's output was shut down");
        Outcome.Result r1 = up.await();
        assertNull(r1.cause());
        assertEquals(x, r1.moved());
        assertTrue(!down.result.isDone(), "the other direction keeps running after a half-close");

        // server -> client still flows, then the server closes its side too
        CompletableFuture<Long> got = Rig.receive(rig.source, 1000, y);
        Bytes.write(rig.sink.getOutputStream(), 1000, y, null);
        rig.sink.shutdownOutput();
        assertEquals(-1L, got.get(10, TimeUnit.SECONDS));
        assertEquals(-1, rig.source.getInputStream().read());
        Outcome.Result r2 = down.await();
        assertNull(r2.cause());
        assertEquals(y, r2.moved());

        assertEquals(x + y, metrics.bytesSpliced());
        assertEquals(0, rig.recA.size(), "Netty read nothing on a");
        assertEquals(0, rig.recB.size(), "Netty read nothing on b");
        assertTrue(rig.a.isOpen() && rig.b.isOpen(), "closing is the proxy's decision");
        assertEquals(0, metrics.pipesInUse());
    }

    @Test
    void pump_idlePeer_timesOutAndTheOtherDirectionIsCancelled() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome up = new Outcome();
        Outcome down = new Outcome();
        SpliceTransfer tUp = Rig.onLoop(() -> splicer.pump(rig.a, rig.b, 200_000_000L, up));
        SpliceTransfer tDown = Rig.onLoop(() -> splicer.pump(rig.b, rig.a, 0, down));
        assertNotNull(tUp);
        assertNotNull(tDown);

        assertInstanceOf(SpliceTimeoutException.class, up.await().cause());
        tDown.cancel(); // what the proxy does when one direction fails
        assertInstanceOf(SpliceCancelledException.class, down.await().cause());
        assertEquals(0, Rig.onLoop(splicer::activeTransfers));
    }

    @Test
    void pump_sourceResets_ioErrorReported() throws Exception {
        splicer();
        Rig rig = rig();
        Outcome up = new Outcome();
        assertNotNull(Rig.onLoop(() -> splicer.pump(rig.a, rig.b, 0, up)));
        Bytes.write(rig.source.getOutputStream(), 0, 10_000, null);
        assertEquals(-1L, Bytes.readAndVerify(rig.sink.getInputStream(), 0, 10_000));

        rig.source.setSoLinger(true, 0);
        rig.source.close();
        Outcome.Result r = up.await();

        SpliceIoException io = assertInstanceOf(SpliceIoException.class, r.cause());
        assertEquals(Syscalls.ECONNRESET, io.errno());
        assertEquals(10_000, r.moved());
    }
}
