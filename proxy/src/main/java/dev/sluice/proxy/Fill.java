package dev.sluice.proxy;

import dev.sluice.cache.StoredResponse;
import dev.sluice.conf.SluiceConfig.CacheFill;
import dev.sluice.shm.Extent;
import dev.sluice.splice.FallbackReason;
import dev.sluice.splice.SpliceRefusedException;
import dev.sluice.splice.TeeFill;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One miss being stored, and the rendezvous of every request for its key meanwhile (collapsed forwarding).
 *
 * <p>A fill is registered under its primary key by the request that misses first (the leader) before it goes
 * upstream; later misses for that key wait on it instead of going upstream too. When the response head comes, the
 * leader either {@linkplain #pass passes} (not storable: the waiters go upstream on their own) or {@linkplain #begin
 * begins} the fill: the body is received straight into an extent of the loop's store (the transport receives into
 * the mapping, so the kernel's copy out of the socket is the only copy of each byte), and every client that wants it
 * (the leader's, and each waiter's, on whatever loop) sends from the extent as it fills ({@link ExtentSend}). A
 * complete body is published in the index; a body that ends short, stalls or is reset is discarded and never served:
 * clients that were sent part of it are cut off, as they would be without a cache.
 *
 * <p>With {@code cache.fill = tee} the body is stored by a {@link TeeFill} instead, once the leader's send has
 * caught up with the bytes already stored: the upstream socket is spliced into a pipe, teed into a second pipe that
 * goes to the leader's client (zero-copy), and stored from the first (the one copy). Waiters still send from the
 * extent, which {@link #filled()} describes exactly as for a receive: the tee reports only bytes it stored. When the
 * tee cannot run (no splice on this loop, a heap store, no pipe, the upstream already half-closed) the fill
 * receives instead: logged once per reason, and every byte is counted by the path it took
 * ({@code sluice.cache.fill.bytes}).
 *
 * <p>Threads: the state, the bytes filled and the stored response are published through volatiles; everything else
 * belongs to the filling loop. Waiters on other loops are woken with a task on their loop.
 */
final class Fill implements UpstreamConnection.User, ReadSizes.Target {
    private static final System.Logger LOG = System.getLogger(Fill.class.getName());
    /** Most bytes one receive asks for. */
    private static final int MAX_RECEIVE = 1 << 20;
    /** Why tee fills fell back to receive, each logged once. */
    private static final java.util.Set<String> LOGGED_FALLBACKS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The leader's send, while a tee splices the body to its client. On the filling loop. */
    interface TeeClient {
        /** The tee sent {@code n} body bytes to the client since it took over. */
        void teeSent(long n);

        /**
         * The tee's client side ended on its own, {@code n} bytes sent since it took over: all of them (null), the
         * client failed ({@code clientFault}), or the tee stopped (the send goes on from the extent).
         */
        void teeEnded(long n, Throwable cause, boolean clientFault);
    }

    enum State {
        /** The leader's request is upstream; no response head yet. */
        HEAD,
        /** The body is arriving into the extent. */
        FILLING,
        /** Complete and published in the index. */
        DONE,
        /** Discarded (upstream failure, stall, or every client gone); waiters that sent nothing go upstream alone. */
        FAILED,
        /** The response was not storable: waiters go upstream on their own. */
        PASSED;

        boolean hasBody() {
            return this == FILLING || this == DONE;
        }
    }

    /** Someone waiting for a fill to move on: a request waiting for the head, or a send waiting for bytes. */
    interface Waiter {
        EventLoop loop();

        /** Set while waiting; whoever clears it (the fill's wake-up or the waiter's own re-check) goes on. */
        AtomicBoolean armed();

        /** On the waiter's loop, after the fill moved on (a head, bytes, or its end). */
        void fillChanged();
    }

    final String primary;
    private final CacheContext cache;
    private final LoopContext lc;
    private volatile State state = State.HEAD;
    private volatile long filled;
    private volatile StoredResponse response;
    private volatile String failure = "";
    /** Completed even with no reader left ({@link #keepWhole}). */
    private volatile boolean whole;
    /** 304 once a validation refreshed the stored response instead of a body arriving (published with the state). */
    private int fwdStatus;
    private final ConcurrentLinkedQueue<Waiter> waiting = new ConcurrentLinkedQueue<>();
    /** Sends reading the body now (the leader's included). */
    private final AtomicInteger readers = new AtomicInteger();

    // the filling loop's
    private Extent extent;
    private long length;
    private UpstreamConnection up;
    private Upstreams.LoopGroup group;
    private int server;
    private boolean upstreamReusable;
    private boolean trailingBytes;
    private long lastProgressNanos;
    /** tee: the leader's client, until its send reaches {@link #filled} and takes the tee (or gives it up). */
    private Channel teeLeader;
    /** The running tee, and what was filled when it began. */
    private TeeFill tee;
    private long teeBase;
    private boolean teeCancelled;

    Fill(String primary, CacheContext cache, LoopContext lc) {
        this.primary = primary;
        this.cache = cache;
        this.lc = lc;
    }

    State state() {
        return state;
    }

    long filled() {
        return filled;
    }

    StoredResponse response() {
        return response;
    }

    String failure() {
        return failure;
    }

    /** The status the upstream answered the leader with: the response's, or 304 when it refreshed a stored one. */
    int fwdStatus() {
        StoredResponse r = response;
        return fwdStatus != 0 ? fwdStatus : r == null ? 0 : r.status();
    }

    EventLoop loop() {
        return lc.loop;
    }

    /** Waits for the next change; the caller re-checks after this and may clear {@code armed} to go on itself. */
    void await(Waiter w) {
        w.armed().set(true);
        waiting.add(w);
    }

    /**
     * Joins as a reader of the body: true with a reference on the extent taken for the caller (null body: nothing to
     * hold), false when the body is gone or never came (the caller goes upstream on its own).
     */
    boolean join() {
        readers.incrementAndGet();
        StoredResponse r = response;
        if (state.hasBody() && r != null && (r.body() == null || r.body().tryRetain())) {
            return true;
        }
        readers.decrementAndGet();
        return false;
    }

    /** A reader is done (complete or not). The last one leaving a large body ends the fill. */
    void leave() {
        if (readers.decrementAndGet() == 0 && state == State.FILLING && length > cache.config.fillOnAbortMax()
                && !whole) {
            lc.loop.execute(() -> {
                if (readers.get() == 0) {
                    fail("every client left before the body was complete (over cache.fill-on-abort-max)");
                }
            });
        }
    }

    // ---------------------------------------------------------------- the leader's calls, on the filling loop

    /** The response cannot be stored: waiters go upstream on their own. */
    void pass() {
        end(State.PASSED, "");
    }

    /**
     * The leader's validation of a stored response was answered 304: the waiters are answered from {@code refreshed}
     * (its body is the stored one, already complete) as from a finished fill.
     */
    void refreshed(StoredResponse refreshed) {
        if (state == State.HEAD) {
            fwdStatus = 304;
            response = refreshed;
            filled = refreshed.length();
            cache.unpass(primary);
            end(State.DONE, "");
        }
    }

    /**
     * The fill goes on to the end even when every client has left (a Range miss: the whole object was asked for to be
     * stored, and the client that caused it wanted only part of it). Set by the leader before it begins.
     */
    void keepWhole() {
        whole = true;
    }

    /** The leader ended before a response head came (failure, client gone): waiters go upstream on their own. */
    void abandon(String why) {
        if (state == State.HEAD) {
            end(State.FAILED, why);
        }
    }

    /**
     * Starts storing {@code r}: takes over the upstream connection {@code c} (server {@code server} of {@code g},
     * counted active until released) and the body bytes read with the head ({@code pre}, consumed). Returns with one
     * reader joined for the leader: a reference on the extent is held for it. With {@code cache.fill = tee} nothing
     * more is read until the leader's send on {@code client} {@linkplain #handOver hands over}; a null {@code client}
     * (a warm request, sent nothing) receives.
     */
    void begin(StoredResponse r, UpstreamConnection c, Upstreams.LoopGroup g, int server, boolean reusable, ByteBuf pre,
            Channel client) {
        this.response = r;
        this.extent = r.body();
        this.length = r.length();
        this.up = c;
        this.group = g;
        this.server = server;
        this.upstreamReusable = reusable;
        this.lastProgressNanos = System.nanoTime();
        c.user = this;
        readers.incrementAndGet();
        if (extent != null) {
            extent.retain(); // the leader's send
        }
        state = State.FILLING;
        cache.metrics.fillsStarted.increment();
        lc.fills.add(this);
        if (pre != null && pre.isReadable()) {
            copyIn(pre);
        }
        wake();
        if (filled == length) {
            complete();
        } else if (cache.config.fill() != CacheFill.TEE || client == null) {
            receive(); // (no client to tee to: a warm request's fill)
        } else if (lc.splicer == null) {
            fellBack(FallbackReason.UNAVAILABLE.tag());
            receive();
        } else {
            teeLeader = client;
        }
    }

    private void receive() {
        if (ReadSizes.into(up.channel, this)) {
            up.channel.read();
        } else {
            fail("upstream connection cannot read into the cache");
        }
    }

    // ---------------------------------------------------------------- tee

    /** Whether the fill waits for the send on {@code out} to take the tee. */
    boolean awaitsTee(Channel out) {
        return teeLeader != null && teeLeader == out;
    }

    /**
     * The leader's send has sent everything {@link #filled} (its head flushed, nothing pending on {@code out}) and
     * takes the tee ({@code out}, {@code client}), or gives its part up (null: its client left). True when the tee
     * runs: it owns {@code out} until {@link TeeClient#teeEnded} or {@link #detachTee}. Otherwise the fill receives.
     */
    boolean handOver(Channel out, TeeClient client) {
        teeLeader = null;
        if (state != State.FILLING) {
            return false;
        }
        if (out != null) {
            teeBase = filled;
            TeeFill t = lc.splicer.tee(up.channel, extent, filled, length - filled, out, new TeeSide(client));
            if (t != null) {
                tee = t;
                lastProgressNanos = System.nanoTime();
                return true;
            }
            fellBack(lc.splicer.lastFallbackReason().tag());
        } else {
            fellBack("leader-left");
        }
        receive();
        return false;
    }

    /** The leader's send will not take the tee (it sends a range, or nothing): the fill receives, counted. */
    void receiveInstead(String reason) {
        teeLeader = null;
        if (state == State.FILLING) {
            fellBack(reason);
            receive();
        }
    }

    /** The leader's client leaves: the tee stops sending to it and goes on storing. True: wait for {@code then}. */
    boolean detachTee(Runnable then) {
        TeeFill t = tee;
        return t != null && t.detachOutput(then);
    }

    /** Since when the tee has waited for the leader's client alone (0: it does not). */
    long teeOutputWaitingSinceNanos() {
        TeeFill t = tee;
        return t == null ? 0 : t.outputWaitingSinceNanos();
    }

    private void fellBack(String why) {
        cache.metrics.fillFallback(why).increment();
        if (LOGGED_FALLBACKS.add(why)) {
            LOG.log(System.Logger.Level.INFO, "cache.fill = tee: this fill receives into the cache instead ({0}); "
                    + "logged once per reason, counted in sluice.cache.fill.fallbacks", why);
        }
    }

    /** The tee's reports, on the filling loop. */
    private final class TeeSide implements TeeFill.Listener {
        private final TeeClient client;

        TeeSide(TeeClient client) {
            this.client = client;
        }

        @Override
        public void stored(long stored) {
            if (teeCancelled || state != State.FILLING) {
                return;
            }
            long now = teeBase + stored;
            cache.metrics.fillBytes[CacheMetrics.FILL_TEE].increment(now - filled);
            filled = now; // in the extent: the tee stores each byte before it reports it
            lastProgressNanos = System.nanoTime();
            if (filled == length) {
                complete();
            } else {
                wake();
            }
        }

        @Override
        public void sent(long n) {
            lastProgressNanos = System.nanoTime();
            client.teeSent(n);
        }

        @Override
        public void outputEnded(long n, Throwable cause, boolean clientFault) {
            client.teeEnded(n, cause, clientFault);
        }

        @Override
        public void done(long stored, Throwable cause) {
            tee = null;
            if (cause == null || teeCancelled || state != State.FILLING) {
                return;
            }
            if (cause instanceof SpliceRefusedException r && stored == 0) {
                fellBack(r.reason().tag()); // no byte moved: the fill receives from where it stood
                receive();
                return;
            }
            fail(cause.getMessage());
        }
    }

    // ---------------------------------------------------------------- receiving

    @Override
    public ByteBuf next(ByteBufAllocator alloc) {
        if (state != State.FILLING || filled >= length) {
            return null;
        }
        int want = (int) Math.min(length - filled, MAX_RECEIVE);
        ByteBuffer view = extent.byteBuffer(filled, want);
        return view.isDirect() && !view.isReadOnly() ? new Window(alloc, view) : null; // a heap store: copy
    }

    @Override
    public void upstreamRead(ByteBuf buf) {
        try {
            if (state != State.FILLING) {
                return;
            }
            lastProgressNanos = System.nanoTime();
            if (teeLeader != null) {
                // Netty read on its own (the upstream half-closed while the leader caught up): receive from here
                teeLeader = null;
                fellBack(FallbackReason.PEER_CLOSING.tag());
            }
            if (buf instanceof Window) {
                filled += buf.readableBytes(); // received in place, never more than asked
                cache.metrics.fillBytes[CacheMetrics.FILL_RECEIVE].increment(buf.readableBytes());
            } else {
                copyIn(buf);
            }
        } finally {
            buf.release();
        }
        if (filled == length) {
            complete();
        } else {
            wake();
            up.channel.read();
        }
    }

    /** Bytes that did not arrive in place (with the head, or into a heap store): copied, up to the body's end. */
    private void copyIn(ByteBuf buf) {
        int n = (int) Math.min(buf.readableBytes(), length - filled);
        if (n > 0) {
            extent.byteBuffer(filled, n).put(buf.nioBuffer(buf.readerIndex(), n));
            buf.skipBytes(n);
            filled += n;
            cache.metrics.fillBytes[CacheMetrics.FILL_COPY].increment(n);
        }
        trailingBytes |= buf.isReadable();
    }

    @Override
    public void upstreamClosed(UpstreamConnection c) {
        if (state == State.FILLING && c == up) {
            up = null; // closed already
            group.active[server]--;
            fail("upstream closed the connection with " + (length - filled) + " of " + length + " body bytes outstanding");
        }
    }

    /** The loop's watchdog: a fill that moved no byte for the idle timeout is discarded. */
    void tick(long now, long idleNanos, java.time.Duration idle) {
        if (teeLeader != null || teeOutputWaitingSinceNanos() != 0) {
            return; // waiting for the leader's client, whose own idle timeout ends it (then the fill goes on)
        }
        if (state == State.FILLING && now - lastProgressNanos > idleNanos) {
            fail("idle timeout: no body bytes for " + idle);
        }
    }

    // ---------------------------------------------------------------- ends

    private void complete() {
        publish();
        cache.unpass(primary);
        cache.fills.remove(primary, this);
        state = State.DONE;
        cache.metrics.fillsCompleted.increment();
        lc.fills.remove(this);
        boolean surplus = trailingBytes || queued() != 0;
        if (surplus) {
            group.group.surplus(up.label(), "bytes after the response to GET " + primary);
        }
        releaseUpstream(upstreamReusable && !surplus);
        wake();
    }

    /** Bytes the server sent beyond the body (surplus, never pooled), or 0, or -1 when the kernel cannot say. */
    private int queued() {
        return lc.splicer == null ? 0 : lc.splicer.queuedBytes(up.channel);
    }

    void fail(String why) {
        if (state != State.FILLING) {
            return;
        }
        TeeFill t = tee;
        if (t != null) {
            teeCancelled = true;
            t.cancel(); // no byte is stored after this returns; it reports done() once its polls are in
        }
        if (extent != null) {
            extent.free(); // drains: senders holding references finish what they started
        }
        if (up != null) {
            releaseUpstream(false);
        }
        lc.fills.remove(this);
        cache.metrics.fillsAborted.increment();
        LOG.log(System.Logger.Level.DEBUG, "fill of {0} discarded: {1}", primary, why);
        end(State.FAILED, why);
    }

    private void end(State s, String why) {
        failure = why;
        cache.fills.remove(primary, this);
        state = s;
        wake();
    }

    private void releaseUpstream(boolean reusable) {
        UpstreamConnection c = up;
        up = null;
        group.done(server, c, reusable);
    }

    /** Wakes every waiter; those that wait again are woken by the next change. */
    private void wake() {
        if (waiting.isEmpty()) {
            return;
        }
        List<Waiter> now = new ArrayList<>();
        for (Waiter w; (w = waiting.poll()) != null; ) {
            now.add(w);
        }
        for (Waiter w : now) {
            if (w.armed().compareAndSet(true, false)) {
                if (w.loop().inEventLoop()) {
                    w.fillChanged();
                } else {
                    w.loop().execute(w::fillChanged);
                }
            }
        }
    }

    // ---------------------------------------------------------------- purges that come while the fill runs

    /** A purge of this fill's key that came while it ran: all of it, or only if its response carries {@code tag}. */
    private record Purge(String tag, boolean soft) {}

    /** Purges from the admin's thread, read on the filling loop when the body is complete. Empty but for purges. */
    private final ConcurrentLinkedQueue<Purge> purges = new ConcurrentLinkedQueue<>();

    /**
     * An admin purge of this fill's key (any thread): when complete, the body is not published ({@code soft}:
     * published already stale). With {@code tag}, only if the response carries it.
     */
    void purge(String tag, boolean soft) {
        purges.add(new Purge(tag, soft));
    }

    /**
     * Puts the complete response in the index (which owns the extent from then on and frees it on eviction), unless
     * a purge came meanwhile. The admin marks fills before it purges the index: a purge marked before the check
     * below stops the publication; one marked after it finds the entry in the index, or is caught by the second
     * check, which takes back what was put.
     */
    private void publish() {
        StoredResponse r = purged(response);
        if (r == null) {
            dropPurged();
            return;
        }
        cache.index.put(r);
        if (!purges.isEmpty()) {
            StoredResponse again = purged(r);
            if (again == null) {
                cache.index.remove(r); // frees the body; sends that hold it finish
            } else if (again != r) {
                cache.index.replace(r, again);
            }
        }
    }

    /** {@code r} as the purges so far leave it: itself, made stale (soft), or null (not to be published). */
    private StoredResponse purged(StoredResponse r) {
        boolean soft = false;
        for (Purge p : purges) {
            if (p.tag() == null || cache.index.tagsOf(r).contains(p.tag())) {
                if (!p.soft()) {
                    return null;
                }
                soft = true;
            }
        }
        return soft ? r.stale() : r;
    }

    /** A complete body a purge said not to publish: freed (it drains while clients finish sending it). */
    private void dropPurged() {
        if (extent != null) {
            extent.free();
        }
        LOG.log(System.Logger.Level.DEBUG, "fill of {0} not published: purged while it filled", primary);
    }

    /** A receive buffer over the extent's mapping: never frees the memory it wraps. */
    private static final class Window extends UnpooledDirectByteBuf {
        Window(ByteBufAllocator alloc, ByteBuffer view) {
            super(alloc, view, view.remaining());
            clear();
        }
    }
}
