package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Edge cases of {@link SendMechanism#WRITE} sends (and of the fallback to it) that the byte tests do not reach. */
class ExtentWriteTest extends LoopTestBase {

    /**
     * A send to a channel that is already closed falls back to a WRITE whose Netty future fails at once. The
     * callback must still not run inside {@code send} (as for every other send and transfer: callers set up their
     * state after the call returns), must report the failure, and the extent reference must come back.
     */
    @ParameterizedTest
    @EnumSource(SendMechanism.class)
    void send_toClosedChannel_callbackDeferredFailsAndExtentReleased(SendMechanism mechanism) throws Exception {
        splicer();
        Rig rig = rig();
        Store store = track(ShmBuilder.newBuilder().totalBytes(1L << 20).loops(1).populate(false)
                .lockPolicy(LockPolicy.OFF).name("write-closed").build()).store(0);
        Extent e = store.allocate(64 * 1024);
        assertNotNull(e);
        Rig.onLoop(() -> rig.b.close()).sync();
        Outcome o = new Outcome();

        boolean ranInside = Rig.onLoop(() -> {
            splicer.send(e, 0, 64 * 1024, rig.b, mechanism, 0, o);
            return o.calls.get() > 0;
        });

        assertFalse(ranInside, "the callback ran inside send()");
        Outcome.Result r = o.await();
        assertNotNull(r.cause());
        assertInstanceOf(SpliceException.class, r.cause());
        assertEquals(0, r.moved());
        assertTrue(r.onLoop());
        Thread.sleep(50);
        assertEquals(1, o.calls.get(), "exactly once");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (e.refCnt() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, e.refCnt());
        e.free();
    }
}
