package dev.sluice.proxy;

import dev.sluice.admin.AdminServer;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.conf.SluiceConfig.ListenerConfig;
import dev.sluice.conf.SluiceConfig.ListenerMode;
import dev.sluice.splice.SpliceMetrics;
import dev.sluice.splice.SpliceSettings;
import dev.sluice.splice.Splicer;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A running Sluice: event loops, listeners, admin. {@link #start} it; {@link #close} stops everything. */
public final class Sluice implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Sluice.class.getName());

    private final SluiceConfig config;
    private final Transports transports;
    private final PrometheusMeterRegistry registry;
    private final EventLoopGroup group;
    private final AccessLog accessLog;
    private final ProxyContext context;
    private final List<Channel> listenerChannels = new ArrayList<>();
    private final Map<String, Integer> ports = new LinkedHashMap<>();
    /** Each listener as bound, for the start line. */
    private final List<String> bound = new ArrayList<>();
    /** The file the configuration was read from, which a reload reads again; null when there is none (the demo). */
    private final java.nio.file.Path file;
    private ConfigReloader reloader;
    private ConnectionLimit limit;
    private AdminServer admin;
    private boolean closed;
    /** Whether it started: a start that failed is reported by its exception, not by a stop line. */
    private boolean started;

    private Sluice(SluiceConfig config, java.nio.file.Path file, java.util.function.LongSupplier clock) throws Exception {
        this.config = config;
        this.file = file;
        BufferLeaks.install(); // counts leaks where no Netty buffer was made before (Main makes sure of it)
        BufferLeaks.apply(config.bufferLeakDetection());
        this.transports = Transports.select(config.transport()); // in the start line, with why
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.accessLog = new AccessLog(config.accessLog());
        ProxyMetrics metrics = new ProxyMetrics(registry, transports.name());
        int loops = config.effectiveEventLoops();
        this.context = new ProxyContext(config, transports, metrics, accessLog,
                CacheContext.create(config, loops, registry, clock));
        this.group = new MultiThreadIoEventLoopGroup(loops,
                Thread.ofPlatform().name("sluice-loop-", 0).factory(), transports.ioHandlerFactory());
    }

    /** Starts from a configuration that has no file to reload from (a reload answers so). */
    public static Sluice start(SluiceConfig config) throws Exception {
        return start(config, null, () -> System.currentTimeMillis() / 1000);
    }

    /**
     * Starts from {@code config}, read from {@code file}: {@code POST /config/reload} and {@link #reload} read that
     * file again and apply what can change while running.
     */
    public static Sluice start(SluiceConfig config, java.nio.file.Path file) throws Exception {
        return start(config, file, () -> System.currentTimeMillis() / 1000);
    }

    /** As {@link #start(SluiceConfig)}, with the clock (epoch seconds) the cache computes freshness by. */
    static Sluice start(SluiceConfig config, java.util.function.LongSupplier clock) throws Exception {
        return start(config, null, clock);
    }

    static Sluice start(SluiceConfig config, java.nio.file.Path file, java.util.function.LongSupplier clock)
            throws Exception {
        Sluice s = new Sluice(config, file, clock);
        try {
            s.startListeners();
            s.started = true;
            LOG.log(System.Logger.Level.INFO, s.startLine());
            return s;
        } catch (Exception | Error e) {
            s.close();
            throw e;
        }
    }

    private void startListeners() throws Exception {
        Generation first = Generation.build(1, config, config, null, context.metrics, context.cache);
        context.generation = first;
        int i = 0;
        int batch = 0;
        String refused = null;
        for (EventExecutor e : group) {
            LoopContext lc = new LoopContext((EventLoop) e, i++, first); // and its watchdog
            context.addLoop(lc);
            if (config.eventLoopScheduling() == SluiceConfig.LoopScheduling.BATCH) {
                String why = lc.loop.submit(ThreadPolicy::batch).syncUninterruptibly().getNow();
                if (why == null) {
                    batch++;
                } else if (refused == null) { // once: every loop would say the same
                    refused = why;
                    LOG.log(System.Logger.Level.WARNING, "event-loop-scheduling = batch refused ({0}): loops run under"
                            + " the normal policy", why);
                }
            }
            if (needsSplice()) {
                lc.loop.submit(() -> initSplice(lc)).syncUninterruptibly();
            }
            if (context.cache != null) {
                lc.loop.submit(() -> initCache(lc)).syncUninterruptibly();
            }
        }
        context.metrics.loops(i - batch, batch);
        if (batch > 0) {
            LOG.log(System.Logger.Level.INFO, "{0} of {1} event loops run under SCHED_BATCH", batch, i);
        }
        if (needsSplice()) {
            if (!Transports.spliceCompatible()) {
                LOG.log(System.Logger.Level.WARNING, "zero-copy splice off: -D{0}=true keeps Netty''s multishot POLLIN armed"
                        + " under spliced sockets; body bytes are copied", Transports.MULTISHOT_POLL);
            } else if (!Splicer.isAvailable()) {
                LOG.log(System.Logger.Level.WARNING, "zero-copy splice unavailable, body bytes are copied: {0}",
                        String.valueOf(Splicer.unavailabilityCause()));
            } else if (transports.kind() != SluiceConfig.Transport.IO_URING) {
                LOG.log(System.Logger.Level.WARNING, "zero-copy splice needs the io_uring transport; with {0} body bytes are copied",
                        transports.name());
            }
        }
        int listenerSockets = config.listeners().size() * (transports.reusePort() ? i : 1)
                + (config.admin().enabled() ? 1 : 0);
        int splicing = 0;
        for (LoopContext lc : context.loops()) {
            splicing += lc.splicer != null ? 1 : 0;
        }
        int max = ConnectionLimit.effective(config, listenerSockets, splicing);
        limit = new ConnectionLimit(max, context.metrics);
        context.metrics.connectionLimit(max);
        if (transports.kind() == SluiceConfig.Transport.IO_URING && !Transports.acceptBackoffCompatible()) {
            LOG.log(System.Logger.Level.WARNING, "-D{0}=true: a multishot accept that fails (out of fds) is re-armed by"
                    + " Netty at once, so listeners cannot back off and their loops spin until fds are free again",
                    Transports.MULTISHOT_ACCEPT);
        }
        Map<String, InetSocketAddress> httpListeners = new LinkedHashMap<>(); // for warm fetches, by listener name
        for (ListenerConfig l : config.listeners()) {
            if (l.mode() == ListenerMode.TCP) {
                ProxyMetrics.RouteMeters m = context.metrics.routeMeters(l.name());
                bind(l, ch -> {
                    ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
                    ReadSizes.body(ch); // no heads on an L4 connection
                    ch.pipeline().addLast(new TcpRelay(context, l, m).clientHandler());
                });
                continue;
            }
            if (first.router(l.name()).isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "listener {0} has no routes: every request gets 404", l.name());
            }
            bind(l, ch -> ch.pipeline().addLast(new ClientConnection(context, l.name())));
            httpListeners.put(l.name(), loopbackFor(l.address().host(), ports.get(l.name())));
        }
        reloader = new ConfigReloader(file, config, context, this::initSplice);
        if (config.admin().enabled()) {
            var adminLimits = new AdminServer.Limits(config.timeouts().requestHead(), config.timeouts().idle(),
                    config.limits().maxRequestTarget(), config.limits().maxHeaderSize());
            SluiceConfig.HostPort a = config.admin().address();
            try {
                admin = AdminServer.start(a.host(), a.port(), config.admin().eventLoops(), adminLimits, registry,
                        this::healthJson, config.admin().token(),
                        context.cache == null ? null : new ProxyCacheAdmin(context.cache, () -> context.generation,
                                httpListeners, registry, this::waitingHeads),
                        reloader);
            } catch (java.net.BindException e) {
                throw bindFailed("admin listener", a, e);
            }
        }
    }

    /** Where this process reaches a listener bound to {@code host}: a wildcard address becomes loopback. */
    private static InetSocketAddress loopbackFor(String host, int port) {
        String h = host.equals("0.0.0.0") || host.isEmpty() ? "127.0.0.1" : host.equals("::") ? "::1" : host;
        return new InetSocketAddress(h, port);
    }

    /** Client exchanges waiting for an upstream response head, all loops (each loop's counter read racily). */
    private int waitingHeads() {
        int n = 0;
        for (LoopContext lc : context.loops()) {
            n += lc.waitingHeads;
        }
        return n;
    }

    private boolean needsSplice() {
        return config.routes().stream().anyMatch(r -> r.zeroCopy() != SluiceConfig.ZeroCopy.COPY)
                || config.listeners().stream().anyMatch(l -> l.mode() == ListenerMode.TCP);
    }

    /**
     * On the loop: its splicer (pipes are created lazily) and the two zero-copy modes over it. Also run by a reload
     * whose routes splice on a loop that has no splicer yet (none did at start).
     */
    private void initSplice(LoopContext lc) {
        if (transports.kind() != SluiceConfig.Transport.IO_URING || !Splicer.isAvailable()
                || !Transports.spliceCompatible()) {
            return;
        }
        SpliceMetrics metrics = new SpliceMetrics().bindTo(registry, Tags.of("loop", Integer.toString(lc.index)));
        SpliceSettings settings = SpliceSettings.defaults().withMaxPipes(config.splice().maxPipes())
                .withPipeSize(config.splice().pipeSize())
                .withBatch(config.splice().batchMax(), config.splice().batchDelay().toNanos());
        lc.splicer = Splicer.forLoop(lc.loop, settings, metrics);
        long idle = config.timeouts().idle().toNanos();
        lc.zeroCopyAuto = new SpliceZeroCopy(lc.splicer, config.splice().minBytes(), idle);
        lc.zeroCopyForced = new SpliceZeroCopy(lc.splicer, 1, idle);
    }

    /**
     * On the loop: its cache store, and a sender for hits. Where the loop splices, that is its splicer; elsewhere a
     * splicer that cannot splice still writes hits from the mapping (Splicer.send falls back to WRITE, counted).
     */
    private void initCache(LoopContext lc) {
        dev.sluice.splice.Splicer sender = lc.splicer;
        if (sender == null) {
            SpliceMetrics metrics = new SpliceMetrics().bindTo(registry, Tags.of("loop", Integer.toString(lc.index)));
            sender = Splicer.forLoop(lc.loop, SpliceSettings.defaults(), metrics);
        }
        lc.cache(context.cache.store(lc.index), sender, config.timeouts().idle());
    }

    /**
     * One listener socket per loop with SO_REUSEPORT (the kernel spreads connections); NIO shares one. Each has a
     * {@link ConnectionLimit.Gate} ahead of Netty's acceptor.
     */
    private void bind(ListenerConfig l, java.util.function.Consumer<Channel> init)
            throws StartException, InterruptedException {
        int port = l.address().port();
        if (transports.reusePort() && port != 0) {
            ensureUnused(l.name(), l.address());
        }
        List<EventLoop> loops = new ArrayList<>();
        for (EventExecutor e : group) {
            loops.add((EventLoop) e);
        }
        if (!transports.reusePort()) {
            loops = List.of(loops.get(0));
        }
        TcpCongestion congestion = TcpCongestion.forListener(l.tcpCongestion(), l.name(), registry);
        for (EventLoop loop : loops) {
            ServerBootstrap b = new ServerBootstrap()
                    .group(loop, transports.reusePort() ? loop : group)
                    .channel(transports.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.config().setRecvByteBufAllocator(new ReadSizes()); // per connection: it has a mode
                            init.accept(ch);
                        }
                    });
            transports.setReusePort(b);
            ConnectionLimit.Gate gate = limit.gate(l.name());
            b.handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    if (congestion != null) {
                        // on the listening socket, before bind: accepted sockets inherit it from their listener
                        ch.pipeline().addLast(congestion.applier());
                    }
                    ch.pipeline().addLast(gate);
                }
            });
            Channel ch;
            try {
                ch = b.bind(l.address().host(), port).sync().channel();
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                throw bindFailed("listener " + l.name(), new SluiceConfig.HostPort(l.address().host(), port), e);
            }
            listenerChannels.add(ch);
            port = ((InetSocketAddress) ch.localAddress()).getPort(); // later loops bind the same (even if 0 was asked)
        }
        ports.put(l.name(), port);
        bound.add("listener " + l.name() + " on " + l.address().host() + ":" + port + " (" + l.mode().name().toLowerCase()
                + ", " + loops.size() + " socket(s)" + (congestion == null ? "" : ", tcp-congestion " + congestion.algorithm())
                + ")");
    }

    /**
     * Refuses an address another socket already listens on. Listening sockets with SO_REUSEPORT of the same user
     * share a port with any other such group: a second Sluice on the same port would bind without error and take
     * part of the traffic. A probe socket bound without SO_REUSEPORT (SO_REUSEADDR only, which tolerates what a
     * previous run left in TIME_WAIT) is refused with EADDRINUSE while anyone listens there. It only binds (never
     * listens) and closes at once, before the real sockets bind. Two processes that start in the same instant can
     * both pass it; one that already runs is what it catches.
     */
    static void ensureUnused(String listener, SluiceConfig.HostPort address) throws StartException {
        InetSocketAddress a = new InetSocketAddress(address.host(), address.port());
        if (a.isUnresolved()) {
            return; // the real bind reports it
        }
        try (java.net.Socket probe = new java.net.Socket()) {
            probe.setReuseAddress(true);
            probe.bind(a);
        } catch (java.io.IOException e) {
            throw bindFailed("listener " + listener, address, e);
        }
    }

    /** One line for the operator: the listener, the address and the system's reason. */
    private static StartException bindFailed(String what, SluiceConfig.HostPort address, Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("Address already in use")) { // EADDRINUSE, in every transport
                return new StartException(what + ": " + address + " is already in use by another process");
            }
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return new StartException(what + ": cannot listen on " + address + ": " + ConnectionLimit.errnoText(root));
    }

    /**
     * What an operator checks first, in one line: the version, the transport and why, the loops, every listener as
     * bound, the admin address, and the cache's budget with how much of its memory is locked (unlocked memory can
     * be swapped out, and a hit from swap is a disk read).
     */
    private String startLine() {
        String cache;
        if (context.cache == null) {
            cache = "no cache (no route caches, or cache.memory = 0)";
        } else {
            var stats = context.cache.segments.stats();
            long locked = stats.lockedBytes();
            cache = "cache " + mib(context.cache.config.memory()) + " ("
                    + (locked == 0 ? "not locked"
                            : locked >= stats.capacityBytes() ? "locked"
                            : mib(locked) + " of " + mib(stats.capacityBytes()) + " of bodies locked")
                    + ", lock = " + context.cache.config.lock().name().toLowerCase() + ")";
        }
        return "sluice " + version() + " started: transport " + transports.name() + " (" + transports.why() + "), "
                + config.effectiveEventLoops() + " event loop(s); " + String.join(", ", bound) + "; admin "
                + (admin == null ? "disabled" : "on " + config.admin().address().host() + ":" + admin.address().getPort())
                + "; " + cache;
    }

    private static String mib(long bytes) {
        return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : String.format("%.1f MiB", bytes / 1048576.0);
    }

    String healthJson() {
        return "{\"status\":\"ok\",\"transport\":\"" + transports.name() + "\",\"event_loops\":"
                + config.effectiveEventLoops() + ",\"client_connections\":" + context.metrics.clientConnections.get() + "}";
    }

    /** The Maven project version this was built as ({@code version.properties}, filled in by the build). */
    public static String version() {
        try (var in = Sluice.class.getResourceAsStream("version.properties")) {
            var p = new java.util.Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    public int port(String listener) {
        Integer p = ports.get(listener);
        if (p == null) {
            throw new IllegalArgumentException("no listener named " + listener);
        }
        return p;
    }

    /**
     * The token of this process's warm requests ({@code Sluice-Warm}: a response is stored and answered with its
     * head alone), or null when nothing caches.
     */
    public String warmToken() {
        return context.cache == null ? null : context.cache.warmToken;
    }

    public InetSocketAddress adminAddress() {
        return admin == null ? null : admin.address();
    }

    public String transport() {
        return transports.name();
    }

    /** The event loops serving listeners (tests run tasks on them). */
    EventLoopGroup eventLoops() {
        return group;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The configuration Sluice started with (a reload changes what {@link #reload} reports, not this). */
    public SluiceConfig config() {
        return config;
    }

    /**
     * Reads the file Sluice started with again and applies what can change (see {@link ConfigReloader}); what
     * {@code POST /config/reload} and SIGHUP run.
     *
     * @param trigger who asked, for the log line
     */
    public dev.sluice.admin.ConfigReload.Outcome reload(String trigger) {
        return reloader.reload(trigger);
    }

    /** What reloads this Sluice, for a signal handler. */
    public dev.sluice.admin.ConfigReload reloader() {
        return reloader;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        long start = System.nanoTime();
        for (Channel ch : listenerChannels) {
            ch.close().syncUninterruptibly();
        }
        if (admin != null) {
            admin.close();
        }
        int[] drained = endClientConnections();
        for (LoopContext lc : context.loops()) {
            lc.loop.submit(() -> {
                lc.closeAll();
                if (lc.splicer != null) {
                    lc.splicer.close();
                }
                if (lc.sender != null && lc.sender != lc.splicer) {
                    lc.sender.close();
                }
            }).syncUninterruptibly();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        if (context.cache != null) {
            context.cache.close(); // every send from the stores ended with the loops
        }
        accessLog.close();
        registry.close();
        if (!started) {
            return;
        }
        LOG.log(System.Logger.Level.INFO, "sluice stopped in {0} ms: ended {1} client connection(s), {2} L4 relay(s)"
                + " and {3} cache fill(s) in progress ({4} still open after 2 s, closed with the loops)", (System.nanoTime() - start) / 1_000_000, drained[0], drained[1],
                drained[2], drained[3]);
    }

    /**
     * Ends every client connection through its exchange, on its loop, and waits (at most 2 s) until they are
     * closed: a splice in flight must be cancelled, and its completion seen, before its sockets close, which a
     * loop that is already stopping no longer does (the connection then stayed open and its buffers leaked).
     */
    private int[] endClientConnections() {
        int[] drained = new int[4]; // client connections, relays, fills ended; connections left open after the wait
        for (LoopContext lc : context.loops()) {
            lc.loop.submit(() -> {
                drained[0] += lc.clients.size();
                drained[1] += lc.relays.size();
                drained[2] += lc.fills.size();
                lc.shutdownClients();
            }).syncUninterruptibly(); // one loop at a time: the array is handed over with each task's completion
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        for (LoopContext lc : context.loops()) {
            int open;
            while ((open = lc.loop.submit(lc::open).syncUninterruptibly().getNow()) > 0) {
                if (System.nanoTime() >= deadline) {
                    drained[3] += open;
                    break;
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return drained;
                }
            }
        }
        return drained;
    }
}
