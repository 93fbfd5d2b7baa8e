package dev.sluice.splice;

import dev.sluice.shm.Extent;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Zero-copy forwarding between two Netty io_uring socket channels of one event loop: bytes go
 * {@code socket -> pooled pipe -> socket}, never through the JVM heap. By default the splices are plain splice(2)
 * calls on the loop thread, waiting with io_uring polls when a socket would block; {@code
 * -Dsluice.splice.mode=uring} makes every splice an IORING_OP_SPLICE on the loop's ring instead (run by io-wq
 * workers: more CPU per byte, see {@link Transfer}). One instance per event loop, confined to it (no locks): get it
 * with {@link #forLoop} on the loop.
 *
 * <p>Usage from the proxy's single body-transfer point, on the loop, once the head (and any body bytes Netty
 * already read) has been written and that write completed:
 * <pre>{@code
 * SpliceTransfer t = Splicer.forLoop(loop, settings, metrics).transfer(upstream, downstream, rest, idle, cb);
 * if (t == null) { copy the body the ordinary way; splicer.lastFallbackReason() says why }
 * // cb(bytes, null): hand the sockets back to Netty (read()); cb(bytes, cause): cause says what failed
 * }</pre>
 *
 * <p>Preconditions the caller guarantees: both channels are {@link IoUringSocketChannel}s registered on this
 * splicer's loop, AUTO_READ is off and no read is pending on the input, and the output has no pending writes.
 * While a transfer runs, the caller neither reads the input nor writes the output; it may {@link
 * SpliceTransfer#cancel()} at any time and should do so before closing either channel (closing is detected too,
 * and turned into a cancel).
 *
 * <p>Sockets stay O_NONBLOCK afterwards: Netty's io_uring channels submit recv/send/writev SQEs and treat EAGAIN
 * as "arm a poll", the same state its own connected sockets (created with SOCK_NONBLOCK) are always in; only
 * accepted sockets start out blocking, and a blocking socket would park an io-wq worker inside splice.
 */
public final class Splicer {
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Splicer.class);
    private static final Throwable UNAVAILABILITY_CAUSE = SpliceProbe.host();
    private static final ConcurrentHashMap<EventLoop, Splicer> BY_LOOP = new ConcurrentHashMap<>();
    private static final AtomicBoolean LOGGED_UNAVAILABLE = new AtomicBoolean();

    /** System property choosing how splices run: {@code inline} (default) or {@code uring}; see {@link Transfer}. */
    public static final String MODE_PROPERTY = "sluice.splice.mode";

    private final EventLoop loop;
    final SpliceSettings settings;
    /** splice(2) on the loop thread for inline mode; null in uring mode (every splice is an IORING_OP_SPLICE). */
    final Syscalls.Splice inline;
    /** Direct syscalls on the loop (SO_RCVLOWAT for read batching); the same object as {@link #inline} there. */
    final Syscalls.Splice sys;
    /** Address of the timespec bounding a batched wait ({@link ReadBatching#HOLD_FACTOR} x batch-delay), or 0. */
    final long batchHoldTimespec;
    final SpliceMetrics metrics;
    /** Why this splicer cannot splice (host or loop), or null. */
    private final Throwable disabled;
    final PipePool pool;
    private final IoRegistration registration;
    /** The io_uring slots, their holders and watchdog; the handle of {@link #registration}. */
    final SlotTable slots;
    private boolean closed;
    private FallbackReason lastFallback;
    /** The cache's entry points: {@link #send} and {@link #tee}. */
    private final CachePath cache;

    /** Whether this host can splice: io_uring with IORING_OP_SPLICE, pipes, FFM, the Netty internals we need. */
    public static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /** Why {@link #isAvailable()} is false, or null. */
    public static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * The splicer of {@code loop}, created on first use with these settings and metrics (later calls return the
     * same instance and ignore their arguments). Must be called on {@code loop}. Where splicing is unavailable
     * (host, or a loop that is not io_uring) the splicer exists but every transfer returns null with reason
     * {@link FallbackReason#UNAVAILABLE}, logged once.
     */
    public static Splicer forLoop(EventLoop loop, SpliceSettings settings, SpliceMetrics metrics) {
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(metrics, "metrics");
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("Splicer.forLoop must be called on the event loop " + loop);
        }
        Splicer s = BY_LOOP.get(loop);
        if (s == null) {
            Splicer created = new Splicer(loop, settings, metrics);
            BY_LOOP.put(loop, created);
            // io_uring loops close our handle on shutdown (-> close()); this also forgets disabled splicers.
            loop.terminationFuture().addListener(f -> BY_LOOP.remove(loop, created));
            s = created;
        }
        return s;
    }

    /**
     * Whether {@code ch} can take part in a splice now: splicing is available, it is an active
     * {@link IoUringSocketChannel} with AUTO_READ off and without an io_uring buffer ring (a multishot recv would
     * race the splice).
     */
    public static boolean canSplice(Channel ch) {
        if (!isAvailable() || !(ch instanceof IoUringSocketChannel) || !ch.isActive() || ch.config().isAutoRead()) {
            return false;
        }
        Short bgid = ch.config().getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID);
        return bgid == null || bgid < 0;
    }

    /**
     * The congestion control of {@code ch}'s TCP socket as the kernel reports it (getsockopt TCP_CONGESTION), e.g.
     * {@code "bbr"} or {@code "cubic"}: the system's {@code net.ipv4.tcp_congestion_control} unless the socket, or
     * the listener it was accepted from, set its own. It decides which {@link SendMechanism} is cheapest on a route
     * (see the splice README). One syscall and a small native scratch buffer per call; a caller that asks per
     * response may keep the answer per connection, since it is fixed once the connection is set up unless someone
     * sets it again.
     *
     * <p>Call it on the channel's event loop: elsewhere the channel may close, and its fd number be reused, between
     * the check for an open fd and the call. Works whether or not this host can splice.
     *
     * @return the algorithm's name, or {@code null} when it cannot tell: not a Unix (epoll or io_uring) channel, not a
     *         TCP socket, the fd closed, or the native calls unavailable (FFM refused)
     */
    public static String congestionControl(Channel ch) {
        if (!(ch instanceof UnixChannel u) || !u.fd().isOpen()) {
            return null;
        }
        try {
            return Syscalls.tcpCongestion(u.fd().intValue());
        } catch (LinkageError | RuntimeException e) {
            // FFM refused (Syscalls could not link its downcalls): ExceptionInInitializerError, NoClassDefFoundError
            // or IllegalCallerException
            return null;
        }
    }

    /**
     * Declares that the owner of {@code ch} keeps a read armed whenever it needs to see the peer leave (a pooled
     * upstream connection: idle in the pool, or waiting for a response head), so after a transfer Netty's POLLRDHUP
     * stays off instead of being re-armed: re-arming costs a POLL_ADD, and the next transfer an ASYNC_CANCEL and a
     * loop turn before it may start. Call on the channel's loop; a channel that cannot splice is left alone.
     */
    public static void leaveRdHupOff(Channel ch) {
        if (ch instanceof IoUringSocketChannel u) {
            ChannelLease.of(ch, u.fd().intValue()).rearmRdHup = false;
        }
    }

    private Splicer(EventLoop loop, SpliceSettings settings, SpliceMetrics metrics) {
        this.loop = loop;
        this.settings = settings;
        this.metrics = metrics;
        Throwable why = UNAVAILABILITY_CAUSE;
        IoRegistration reg = null;
        SlotTable table = null;
        if (why == null) {
            if (loop instanceof IoEventLoop ioLoop && ioLoop.isCompatible(SlotTable.class)) {
                // Socket and file splices each hold a pipe; SEND_ZC sends hold only a slot: room for both.
                table = new SlotTable(this, loop, Math.min(SlotTable.MAX_SLOTS, 2 * settings.maxPipes()));
                // On the loop, register() completes synchronously.
                Future<IoRegistration> f = ioLoop.register(table);
                if (f.isDone() && f.isSuccess()) {
                    reg = f.getNow();
                } else {
                    why = f.isDone() ? f.cause() : new IllegalStateException("io_uring registration pending");
                }
            } else {
                why = new UnsupportedOperationException("not an io_uring event loop: " + loop);
            }
        }
        this.disabled = why;
        this.registration = reg;
        this.inline = why == null && SpliceProbe.inlineMode() ? new Syscalls.Splice() : null;
        this.sys = inline != null ? inline : why == null ? new Syscalls.Splice() : null;
        this.batchHoldTimespec = sys != null && settings.batching()
                ? sys.timespec(ReadBatching.HOLD_FACTOR * settings.batchDelayNanos()) : 0L;
        if (why == null) {
            this.pool = new PipePool(settings.maxPipes(), settings.pipeSize(), metrics);
            this.slots = table;
        } else {
            this.pool = null;
            this.slots = new SlotTable(this, loop, 0);
            if (LOGGED_UNAVAILABLE.compareAndSet(false, true)) {
                logger.info("zero-copy splice unavailable, bodies will be copied: {}", why.toString());
            }
        }
        this.cache = new CachePath(this);
    }

    /**
     * Splices exactly {@code count} bytes from {@code in} to {@code out}.
     *
     * @param idleTimeoutNanos fail with {@link SpliceTimeoutException} when no byte moved for this long; 0: never
     * @return the running transfer, or {@code null} when it cannot be spliced (counted as a fallback; see
     *         {@link #lastFallbackReason()}): the caller copies. The callback never runs inside this call.
     */
    public SpliceTransfer transfer(Channel in, Channel out, long count, long idleTimeoutNanos, SpliceCallback cb) {
        return transfer(in, out, count, idleTimeoutNanos, false, cb);
    }

    /**
     * As {@link #transfer(Channel, Channel, long, long, SpliceCallback)}; with {@code watchOutput}, a transfer that has
     * moved no byte for 250 ms also watches the output for its peer's FIN or reset
     * (one POLL_ADD(POLLRDHUP), armed at most once per transfer, so a transfer that keeps moving costs nothing extra)
     * and fails with {@link OutputClosedException} when it comes. For a response body whose origin stalled, that is
     * the client leaving: the origin connection is released then, not at the idle timeout.
     */
    public SpliceTransfer transfer(Channel in, Channel out, long count, long idleTimeoutNanos, boolean watchOutput,
                                   SpliceCallback cb) {
        if (count < 0) {
            throw new IllegalArgumentException(String.format("count must be >= 0, was %d", count));
        }
        return start(in, out, false, count, idleTimeoutNanos, watchOutput, cb);
    }

    /**
     * L4 pump: splices from {@code in} to {@code out} until {@code in} reaches EOF, then shuts down {@code out}'s
     * output (half-close) and reports the bytes moved. Run one per direction; the callback's failure causes are
     * those of {@link #transfer}. Returns null (counted fallback) when it cannot splice.
     */
    public SpliceTransfer pump(Channel in, Channel out, long idleTimeoutNanos, SpliceCallback cb) {
        return start(in, out, true, -1, idleTimeoutNanos, false, cb);
    }

    private SpliceTransfer start(Channel in, Channel out, boolean pump, long count, long idleTimeoutNanos,
                                 boolean watchOutput, SpliceCallback cb) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(cb, "cb");
        if (idleTimeoutNanos < 0) {
            throw new IllegalArgumentException(
                    String.format("idleTimeoutNanos must be >= 0, was %d", idleTimeoutNanos));
        }
        checkInLoop();
        if (in == out) {
            throw new IllegalArgumentException("in and out are the same channel: " + in);
        }
        FallbackReason refused = refusal();
        if (refused != null) {
            return fallback(refused);
        }
        if (in.eventLoop() != loop || out.eventLoop() != loop) {
            throw new IllegalArgumentException(String.format(
                    "channels must be registered on the splicer's loop %s: in on %s, out on %s",
                    loop, in.eventLoop(), out.eventLoop()));
        }
        if (!canSplice(in) || !canSplice(out)) {
            return fallback(FallbackReason.CHANNEL);
        }
        if (!pump && count == 0) {
            CompletedTransfer done = new CompletedTransfer(cb);
            metrics.outcome(SpliceOutcome.COMPLETED);
            loop.execute(done);
            return done;
        }
        ChannelLease inLease = ChannelLease.of(in, ((UnixChannel) in).fd().intValue());
        ChannelLease outLease = ChannelLease.of(out, ((UnixChannel) out).fd().intValue());
        if (inLease.reading) {
            throw new IllegalStateException("a splice is already reading from " + in);
        }
        if (outLease.writing) {
            throw new IllegalStateException("a splice is already writing to " + out);
        }
        if (inLease.rdhup == ChannelLease.RDHUP_NETTY && NettyUring.pollRdhupId(in) == 0) {
            // Netty's POLLRDHUP fired: the peer half-closed and Netty is reading the rest on its own.
            return fallback(FallbackReason.PEER_CLOSING);
        }
        if (!inLease.makeNonBlocking() || !outLease.makeNonBlocking()) {
            return fallback(FallbackReason.CHANNEL);
        }
        if (slots.isFull()) {
            return fallback(FallbackReason.POOL_EXHAUSTED);
        }
        Pipe pipe = pool.acquire();
        if (pipe == null) {
            return fallback(pool.lastFailure());
        }
        int slot = slots.take();
        return run(new Transfer(this, slot, new TransferSpec(new TransferSpec.Source.Socket(in, inLease), out, outLease,
                pump ? TransferSpec.UNTIL_EOF : count, idleTimeoutNanos, watchOutput, cb, null), pipe));
    }

    /** Occupies the transfer's slot and starts it. */
    Transfer run(Transfer t) {
        slots.occupy(t.slot, t);
        t.start();
        return t;
    }

    /**
     * Sends bytes [position, position + length) of a shm extent to {@code out} with {@code mechanism}, the one
     * place that knows the four ways (see {@link SendMechanism}). Takes its own reference on the extent and
     * releases it when the kernel is done with the bytes (after the SEND_ZC notification; for SPLICE and SENDFILE
     * when the last splice or sendfile returned, the extent being marked spliced before the first, so its store
     * punches the region before reuse). Bytes are counted per mechanism ({@link SpliceMetrics#sendBytes}).
     *
     * <p>Never returns null: when SEND_ZC, SPLICE or SENDFILE cannot be used (heap store, no pipe or slot free,
     * splicing unavailable, not an io_uring socket channel) the send is a {@link SendMechanism#WRITE} and the
     * fallback is counted with its reason ({@link #lastFallbackReason()}). Preconditions for the other three as for
     * {@link #transfer}: {@code out} is an io_uring socket channel of this loop whose earlier writes completed, and
     * nothing else writes to it until the callback. {@code idleTimeoutNanos} applies to all but WRITE; a WRITE relies
     * on the channel's own idle handling, and its {@code cancel()} does nothing (close the channel to abort it).
     *
     * @throws IllegalStateException    when the extent is freed and the caller holds no reference on it (take
     *                                  {@link Extent#tryRetain()} first on paths that race with eviction, and keep
     *                                  that reference until the last send of the region completed)
     * @throws IllegalArgumentException when the range is not inside the extent
     */
    public SpliceTransfer send(Extent extent, long position, long length, Channel out, SendMechanism mechanism,
                               long idleTimeoutNanos, SpliceCallback cb) {
        return cache.send(extent, position, length, out, mechanism, idleTimeoutNanos, cb);
    }

    /**
     * Stores exactly {@code count} bytes of {@code in} into {@code extent} from {@code position} on while splicing
     * them to {@code out} (see {@link TeeFill}): the cache's tee fill. {@code in} and {@code out} are io_uring
     * socket channels of this loop under the same preconditions as for {@link #transfer}; the caller keeps the
     * extent allocated until {@link TeeFill.Listener#done} (or cancels the tee first: no byte is written after
     * {@link TeeFill#cancel()} returns). Takes two pipes and a slot.
     *
     * @return the running tee, or {@code null} when it cannot run (counted as a fallback; see
     *         {@link #lastFallbackReason()}): the caller receives into the extent instead. The listener is never
     *         called inside this call.
     */
    public TeeFill tee(Channel in, Extent extent, long position, long count, Channel out, TeeFill.Listener listener) {
        return cache.tee(in, extent, position, count, out, listener);
    }

    /** Why nothing can start on this splicer now (splicing unavailable here, or the splicer closed), or null. */
    FallbackReason refusal() {
        return disabled != null ? FallbackReason.UNAVAILABLE : closed ? FallbackReason.CLOSED : null;
    }

    /** Records and counts why a transfer, send or tee cannot run; returns null for the caller to return. */
    <T> T fallback(FallbackReason reason) {
        lastFallback = reason;
        metrics.fallback(reason);
        return null;
    }

    void checkInLoop() {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("Splicer is confined to its event loop " + loop);
        }
    }

    /**
     * Bytes the kernel holds unread on {@code ch}'s socket (FIONREAD), -errno, or -1 when it cannot tell (this loop
     * cannot splice, or not a Unix channel). A proxy asks before pooling an upstream connection whose response body
     * ended in a splice: the splice read exactly the body, so whatever is queued beyond it came from a server that
     * sent more than it announced, and would otherwise be read as the answer to the next request.
     */
    public int queuedBytes(Channel ch) {
        if (sys == null || !(ch instanceof UnixChannel u) || !u.fd().isOpen()) {
            return -1;
        }
        return sys.readable(u.fd().intValue());
    }

    /**
     * Why the last {@link #transfer}/{@link #pump} on this loop returned null, or the last {@link #send} was a WRITE
     * instead of the mechanism asked for. Loop-confined.
     */
    public FallbackReason lastFallbackReason() {
        return lastFallback;
    }

    public SpliceSettings settings() {
        return settings;
    }

    public SpliceMetrics metrics() {
        return metrics;
    }

    public EventLoop eventLoop() {
        return loop;
    }

    /** Transfers and pumps running now. Loop-confined. */
    public int activeTransfers() {
        return slots.active();
    }

    /** Pipes pooled and idle now. Loop-confined. */
    public int idlePipes() {
        return pool == null ? 0 : pool.idle();
    }

    /** The pipe size requested from the kernel after clamping to fs.pipe-max-size. */
    public int pipeSize() {
        return pool == null ? 0 : pool.requestedSize();
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Cancels every running transfer (their callbacks run with {@link SpliceCancelledException} once their
     * operations completed) and closes the pipes; later calls to {@link #forLoop} create a new splicer. Also runs
     * when the event loop shuts down. Safe from any thread.
     */
    public void close() {
        if (!loop.inEventLoop()) {
            loop.execute(this::close);
            return;
        }
        if (closed) {
            return;
        }
        closed = true;
        BY_LOOP.remove(loop, this);
        if (disabled != null) {
            return;
        }
        slots.failAll();
        pool.close();
        if (slots.active() == 0) {
            registration.cancel();
        }
        slots.stopWatchdog();
    }

    IoRegistration registration() {
        return registration;
    }

    /** Returns the transfer's pipe to the pool (once), possibly before its slot is free. */
    void releasePipe(Transfer t, long leftoverPipeBytes) {
        if (t.pipe != null && !t.pipeReleased) {
            t.pipeReleased = true;
            pool.release(t.pipe, leftoverPipeBytes);
        }
    }

    /** Returns a pipe a {@link TeeFill} took, holding exactly {@code leftover} bytes (drained, or the pipe closed). */
    void returnPipe(Pipe p, long leftover) {
        pool.release(p, leftover);
    }

    /** A transfer ended with every CQE in: free its slot and pipe. */
    void finished(Transfer t, long leftoverPipeBytes) {
        releasePipe(t, leftoverPipeBytes);
        finished(t.slot);
    }

    /** The holder of {@code slot} ended with every CQE in: the slot is free for the next transfer or send. */
    void finished(int slot) {
        slots.release(slot);
        if (closed && slots.active() == 0) {
            registration.cancel();
        }
    }
}
