package dev.sluice.splice;

import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * The io_uring slots of one {@link Splicer}: who holds each slot (a transfer, a SEND_ZC or splice send, a sendfile, a
 * tee), which are free, and the watchdog that lets every holder check its deadlines while any slot is taken. It is
 * the splicer's io_uring handle too: every CQE of the loop's splices and sends arrives here and goes to the holder of
 * the slot named in its user_data ({@code slot << 4 | kind} in 16 bits, see {@link UringOps#userData}).
 * Loop-confined.
 */
final class SlotTable implements IoUringIoHandle {
    /** The splice facility's one logger. */
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Splicer.class);
    /** 12 bits of user_data name a slot (the low 4 name the operation). */
    static final int MAX_SLOTS = 1 << 12;
    /**
     * How often the watchdog checks the live transfers and sends: it bounds how late an idle timeout fires and
     * how late a stalled watched transfer starts watching its output ({@link Transfer#HANGUP_PROBE_NANOS}).
     */
    static final long TICK_NANOS = 50_000_000L;

    private final Splicer splicer;
    private final EventLoop loop;
    /** Who holds each io_uring slot, by slot. */
    private final SlotHolder[] holders;
    private final int[] free;
    private int freeCount;
    private int active;
    private final Runnable tick = this::tick;
    /** The watchdog while it runs (some slot is taken), else null. */
    private ScheduledFuture<?> ticking;

    SlotTable(Splicer splicer, EventLoop loop, int size) {
        this.splicer = splicer;
        this.loop = loop;
        this.holders = new SlotHolder[size];
        this.free = new int[size];
        for (int i = 0; i < free.length; i++) {
            free[i] = free.length - 1 - i;
        }
        this.freeCount = free.length;
    }

    /** Whether every slot is taken. */
    boolean isFull() {
        return freeCount == 0;
    }

    /** Takes a free slot for a holder about to be built; {@link #occupy} it right after. */
    int take() {
        return free[--freeCount];
    }

    /** {@code holder} holds {@code slot} now: count it, and make sure the watchdog runs while any slot is taken. */
    void occupy(int slot, SlotHolder holder) {
        holders[slot] = holder;
        active++;
        if (ticking == null) {
            ticking = loop.scheduleAtFixedRate(tick, TICK_NANOS, TICK_NANOS, TimeUnit.NANOSECONDS);
        }
    }

    /** The holder of {@code slot} ended with every CQE in: the slot is free for the next transfer or send. */
    void release(int slot) {
        holders[slot] = null;
        free[freeCount++] = slot;
        active--;
    }

    /** Slots taken now. */
    int active() {
        return active;
    }

    /** Fails every holder (the splicer closes); each ends once its operations completed. */
    void failAll() {
        for (SlotHolder t : holders) {
            if (t != null) {
                t.fail(new SpliceCancelledException("splicer closed"));
            }
        }
    }

    void stopWatchdog() {
        if (ticking != null) {
            ticking.cancel(false);
            ticking = null;
        }
    }

    /**
     * The splice watchdog: one periodic task per loop, running while any slot is taken, that lets every holder check
     * its deadlines ({@link SlotHolder#tick}): the idle timeout, and for a watched transfer when to watch its output.
     * A transfer or send costs no timer of its own, like a connection in the proxy's loop watchdog. The task stops
     * once no slot is taken, so an idle loop is not woken for it.
     */
    private void tick() {
        if (active == 0) {
            ticking.cancel(false);
            ticking = null;
            return;
        }
        long now = System.nanoTime();
        for (SlotHolder h : holders) {
            if (h != null) {
                h.tick(now); // may end h (slot freed) or, from its callback, start another in a free slot
            }
        }
    }

    /** Receives every CQE of this loop's splices and sends; user_data is (slot << 4 | kind) in 16 bits. */
    @Override
    public void handle(IoRegistration reg, IoEvent event) {
        IoUringIoEvent e = (IoUringIoEvent) event;
        int userData = (int) e.userData() & 0xFFFF;
        int slot = userData >>> 4;
        SlotHolder t = slot < holders.length ? holders[slot] : null;
        if (t != null) {
            t.complete(userData & 15, e.res(), e.flags());
        } else if (logger.isDebugEnabled()) {
            logger.debug("splice completion for an empty slot: {}", e);
        }
    }

    @Override
    public void close() {
        // Netty closes every registered handle when the loop shuts down.
        splicer.close();
    }
}
