package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.Errors;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * {@code limits.max-connections} for the whole process, and the accept switch of every listening socket.
 *
 * <p>Every client connection a listening socket accepts (http and tcp listeners alike) is counted in one atomic
 * counter until its channel closes. When the count reaches the limit every listening socket stops accepting
 * (auto-read off: the kernel queues new clients in the listen backlog), and they accept again as soon as a
 * connection closes. Loops are shared-nothing, so a socket on another loop may accept before its pause task runs:
 * a connection that finds the count already at the limit is closed at once and counted.
 *
 * <p>An accept that fails (EMFILE, ENFILE, ...) pauses that socket for a back-off that starts at 10 ms and doubles
 * up to 1 s, reset by the next accept that works; it is logged at most once per {@link #LOG_PERIOD} per listener,
 * with how many failures were not logged. The exception ends here: Netty's ServerBootstrapAcceptor would
 * otherwise stop that socket for 1 s and pass it on to the pipeline's tail, which logs each one.
 */
final class ConnectionLimit {
    private static final System.Logger LOG = System.getLogger(ConnectionLimit.class.getName());

    /** Fds the derived limit leaves for what opens after start: admin connections, log files, jars, DNS. */
    static final int SPARE_FDS = 128;
    /** A derived limit below this is logged as a warning: the open-file limit is too low for a proxy. */
    static final int LOW_LIMIT = 64;
    static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final java.time.Duration LOG_PERIOD = java.time.Duration.ofSeconds(10);

    final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final List<Gate> gates = new CopyOnWriteArrayList<>();
    /** Accept failures are logged per listener (all its sockets), at most once per {@link #LOG_PERIOD}. */
    private final Map<String, LogLimiter> failureLogs = new ConcurrentHashMap<>();
    private final ProxyMetrics metrics;
    private final ChannelFutureListener released = f -> released();

    ConnectionLimit(int max, ProxyMetrics metrics) {
        if (max < 1) {
            throw new IllegalArgumentException("max-connections " + max);
        }
        this.max = max;
        this.metrics = metrics;
    }

    /** The handler for one listening socket of {@code listener} (one per socket: it keeps that socket's state). */
    Gate gate(String listener) {
        Gate g = new Gate(listener, failureLogs.computeIfAbsent(listener, l -> new LogLimiter(LOG_PERIOD)));
        gates.add(g);
        return g;
    }

    private void limitCrossed() {
        for (Gate g : gates) {
            g.onLoop(g.checkLimit);
        }
    }

    /** A counted connection closed (on its own loop), or one past the limit was refused. */
    private void released() {
        if (open.decrementAndGet() == max - 1) {
            // the count moves by one, so coming down from the limit it passes max - 1 exactly here
            limitCrossed();
        }
    }

    /**
     * The server channel's handler, ahead of Netty's ServerBootstrapAcceptor: counts accepted connections, refuses
     * those past the limit, and pauses the socket at the limit or when accepting fails. State is touched only on
     * the socket's own loop.
     */
    final class Gate extends ChannelInboundHandlerAdapter {
        final String listener;
        private final LogLimiter failures;
        private volatile Channel channel;
        private boolean limitPaused;
        private boolean fdPaused;
        private long backoffNanos = FIRST_BACKOFF_NANOS;
        final Runnable checkLimit = this::checkLimit;
        private final Runnable retry = this::retry;

        private Gate(String listener, LogLimiter failures) {
            this.listener = listener;
            this.failures = failures;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            checkLimit(); // other listeners may have filled the limit already
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            backoffNanos = FIRST_BACKOFF_NANOS; // accepting works again
            int n = open.incrementAndGet();
            if (n > max) {
                // accepted on this loop before its pause task ran: not registered yet, so closing is just close(2)
                metrics.refusedLimit.increment();
                child.unsafe().closeForcibly();
                released(); // a connection that closed meanwhile may leave this the decrement that crosses
                checkLimit();
                return;
            }
            child.closeFuture().addListener(released);
            ctx.fireChannelRead(child); // the acceptor registers it: from here its close releases the count
            if (n == max) {
                limitCrossed(); // this socket at once (it is this loop), the others by a task on theirs
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // accepting failed: io_uring and epoll give the errno (NativeIoException), NIO an IOException
            String errno = errnoName(cause);
            boolean fds = errno.equals("EMFILE") || errno.equals("ENFILE");
            (fds ? metrics.refusedFd : metrics.refusedError).increment();
            if (fdPaused) {
                return; // a completion already under way when it paused
            }
            long pause = backoffNanos;
            backoffNanos = Math.min(backoffNanos * 2, MAX_BACKOFF_NANOS);
            setFdPaused(true);
            try {
                channel.eventLoop().schedule(retry, pause, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException stopping) {
                return; // Sluice is stopping
            }
            long more = failures.admit();
            if (more >= 0) {
                String line = "listener " + listener + ": accept failed: " + errnoText(cause) + " (" + errno + "); this"
                        + " socket stops accepting for " + TimeUnit.NANOSECONDS.toMillis(pause) + " ms, then retries,"
                        + " backing off up to " + TimeUnit.NANOSECONDS.toMillis(MAX_BACKOFF_NANOS) + " ms"
                        + LogLimiter.more(more);
                if (cause instanceof IOException) {
                    LOG.log(System.Logger.Level.WARNING, line); // the errno says it all
                } else {
                    LOG.log(System.Logger.Level.WARNING, line, cause); // not the system's: where it came from matters
                }
            }
        }

        private void retry() {
            setFdPaused(false);
        }

        private void setFdPaused(boolean p) {
            if (p != fdPaused) {
                fdPaused = p;
                metrics.pausedFd.addAndGet(p ? 1 : -1);
                apply();
            }
        }

        /**
         * Paused while the count is at the limit. Run on this socket's loop after every crossing of the limit, each
         * run reading the count then: whatever order the runs of several crossings come in, the last one decides.
         */
        private void checkLimit() {
            if (channel == null) {
                return; // not registered yet: handlerAdded checks
            }
            boolean p = open.get() >= max;
            if (p != limitPaused) {
                limitPaused = p;
                metrics.pausedLimit.addAndGet(p ? 1 : -1);
                apply();
            }
        }

        private void apply() {
            boolean accept = !limitPaused && !fdPaused;
            Channel ch = channel;
            if (!ch.isOpen() || ch.config().isAutoRead() == accept) {
                return;
            }
            // off: Netty stops reading (accepting) and cancels an accept in flight; on: it accepts again
            try {
                ch.config().setAutoRead(accept);
            } catch (AssertionError e) {
                // Netty's io_uring server channel asserts, when reading stops, that no accept cancellation is still
                // on its way; one is when this socket was paused, resumed and paused again before the first
                // cancellation completed. The assertion comes after the pause took effect (read no longer pending,
                // so the cancellation's completion does not re-arm the accept): the socket is paused as wanted.
                // Only with assertions enabled (the tests) is anything thrown.
                if (accept || ch.config().isAutoRead()) {
                    throw e;
                }
            }
        }

        void onLoop(Runnable task) {
            Channel ch = channel;
            if (ch == null || !ch.isOpen()) {
                return;
            }
            EventLoop loop = ch.eventLoop();
            if (loop.inEventLoop()) {
                task.run();
            } else {
                try {
                    loop.execute(task);
                } catch (RejectedExecutionException stopping) {
                    // Sluice is stopping
                }
            }
        }
    }

    /** "EMFILE", "ENFILE", or what else describes the failure ("errno 105", the exception's class). */
    static String errnoName(Throwable cause) {
        if (cause instanceof Errors.NativeIoException n) {
            return switch (-n.expectedErr()) {
                case 24 -> "EMFILE";
                case 23 -> "ENFILE";
                default -> "errno " + (-n.expectedErr());
            };
        }
        String m = String.valueOf(cause.getMessage());
        if (cause instanceof IOException && m.contains("Too many open files in system")) {
            return "ENFILE"; // NIO says it in words only
        }
        if (cause instanceof IOException && m.contains("Too many open files")) {
            return "EMFILE";
        }
        return cause.getClass().getSimpleName();
    }

    /** The system's text for a failure: "Too many open files" out of "io_uring accept(..) failed with error(-24): ...". */
    static String errnoText(Throwable cause) {
        String m = String.valueOf(cause.getMessage());
        int i = m.lastIndexOf("): ");
        return i >= 0 ? m.substring(i + 3) : m;
    }

    // ---- the limit in effect: configured, or derived from RLIMIT_NOFILE ----

    /**
     * The limit to enforce, logged once with how it was found.
     *
     * @param listenerSockets listening sockets Sluice is about to open (they need fds too)
     * @param splicingLoops loops that may pool splice pipes (limits.splice.max-pipes each, 2 fds per pipe)
     */
    static int effective(SluiceConfig config, int listenerSockets, int splicingLoops) {
        long soft = softNoFile();
        int configured = config.limits().maxConnections();
        long openNow = openFds();
        long pipeFds = (long) splicingLoops * config.splice().maxPipes() * 2;
        long reserve = Math.max(openNow, 0) + listenerSockets + pipeFds + SPARE_FDS;
        String reserved = openNow + " fds open at start, " + listenerSockets + " listening socket(s), " + pipeFds
                + " for splice pipes (" + splicingLoops + " loop(s) x " + config.splice().maxPipes() + " x 2), "
                + SPARE_FDS + " spare";
        if (configured > 0) {
            long room = soft < 0 ? Long.MAX_VALUE : (soft - reserve) / 2;
            if (configured > room) {
                LOG.log(System.Logger.Level.WARNING, "limits.max-connections = {0} (configured), but RLIMIT_NOFILE {1}"
                        + " leaves room for about {2} (reserved: {3}; a client connection may hold an upstream one too):"
                        + " where fds run out first, listeners stop accepting and retry with backoff",
                        Integer.toString(configured), Long.toString(soft), Long.toString(Math.max(room, 0)), reserved);
            } else {
                LOG.log(System.Logger.Level.INFO, "limits.max-connections = {0} (configured; RLIMIT_NOFILE {1})",
                        Integer.toString(configured), soft < 0 ? "unknown" : Long.toString(soft));
            }
            return configured;
        }
        if (soft < 0) {
            LOG.log(System.Logger.Level.WARNING, "limits.max-connections: RLIMIT_NOFILE unknown (no /proc/self/limits);"
                    + " no limit: set limits.max-connections");
            return Integer.MAX_VALUE;
        }
        int derived = (int) Math.clamp((soft - reserve) / 2, 1, Integer.MAX_VALUE);
        String how = "limits.max-connections = {0}, derived from RLIMIT_NOFILE {1} as ({1} - {2} reserved) / 2"
                + " (a client connection may hold an upstream one too); reserved: {3}";
        if (derived < LOW_LIMIT) {
            LOG.log(System.Logger.Level.WARNING, how + "; raise the open-file limit (ulimit -n, LimitNOFILE=) or set"
                    + " limits.max-connections", Integer.toString(derived), Long.toString(soft), Long.toString(reserve),
                    reserved);
        } else {
            LOG.log(System.Logger.Level.INFO, how, Integer.toString(derived), Long.toString(soft),
                    Long.toString(reserve), reserved);
        }
        return derived;
    }

    /** The soft RLIMIT_NOFILE from /proc/self/limits ("Max open files"), or -1 where unknown. */
    static long softNoFile() {
        // FileInputStream, not Files.readString: on JDK 25 the latter may return a short read of a /proc file
        try (FileInputStream in = new FileInputStream("/proc/self/limits")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Integer.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** Fds this process has open now (entries of /proc/self/fd), or -1 where unknown. */
    static long openFds() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
