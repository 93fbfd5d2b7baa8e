package dev.sluice.proxy;

import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What one event loop owns (shared-nothing): its configuration generation, its upstream pools and balancer state per
 * group and its splice path. Touched only from its loop, so nothing here needs a lock or volatile; a reload hands a
 * new generation over by a task on the loop ({@link #swap}).
 */
final class LoopContext {
    final EventLoop loop;
    final int index;
    /**
     * The configuration generation that exchanges and relays starting on this loop take (they keep it to their end).
     * Written only by {@link #swap}, on this loop.
     */
    Generation generation;
    /** The loop's state of each group of {@link #generation}; a group leaves when a reload drops or replaces it. */
    private final Map<Upstreams.Group, Upstreams.LoopGroup> groups = new HashMap<>();
    private io.netty.util.concurrent.ScheduledFuture<?> watchdog;
    private long watchdogPeriodMillis;
    /** Splice above the size threshold (zero-copy = auto); null when this loop cannot splice. */
    ZeroCopy zeroCopyAuto;
    /** Splice whatever the size (zero-copy = splice); null when this loop cannot splice. */
    ZeroCopy zeroCopyForced;
    /** The loop's splicer (pipes, metrics), or null. */
    dev.sluice.splice.Splicer splicer;
    /** Open client connections of this loop's HTTP listeners, so that stopping can end them one by one. */
    final Set<ClientConnection> clients = new HashSet<>();
    /** This loop's L4 relays that have not released their sockets yet, for the same reason. */
    final Set<TcpRelay> relays = new HashSet<>();
    /** Fills receiving on this loop, watched for stalls. */
    final Set<Fill> fills = new HashSet<>();
    /**
     * Client exchanges on this loop whose request went upstream and whose response head has not come yet. Written
     * on the loop only; read racily by warm jobs (a stale value delays or hurries one warm fetch, nothing more).
     */
    int waitingHeads;
    /**
     * Sends cache hits from shared memory: the loop's splicer where it can splice (then the same object as
     * {@link #splicer}), else one that only writes. Null when there is no cache.
     */
    dev.sluice.splice.Splicer sender;
    /** The cache's store for bodies this loop fills; null when there is no cache. */
    dev.sluice.shm.Store store;
    private long fillIdleNanos;
    private java.time.Duration fillIdle;

    /** The loop runs nothing of this context before a task submitted after this returns, which orders these writes. */
    LoopContext(EventLoop loop, int index, Generation first) {
        this.loop = loop;
        this.index = index;
        swap(first);
    }

    /**
     * On the loop: {@code next} is the generation from now on. Groups it shares with the one before (unchanged ones are
     * the same objects) keep their pools; groups it dropped or replaced are retired: their idle connections close now
     * and their busy ones when the exchange using them ends (nothing is pooled in them any more), so exchanges in flight
     * finish on the servers they started with. The watchdog follows the new timeouts.
     */
    void swap(Generation next) {
        for (Upstreams.Group g : next.groups.values()) {
            groups.computeIfAbsent(g, Upstreams.LoopGroup::new);
        }
        var it = groups.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            if (next.groups.get(e.getKey().name) != e.getKey()) {
                e.getValue().retire();
                it.remove();
            }
        }
        generation = next;
        long period = watchdogPeriodMillis(next.config);
        if (watchdog == null || period != watchdogPeriodMillis) {
            if (watchdog != null) {
                watchdog.cancel(false);
            }
            watchdogPeriodMillis = period;
            watchdog = loop.scheduleAtFixedRate(this::tick, period, period, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /**
     * The loop's state of group {@code g}. A group the loop's generation no longer has is one an exchange of an earlier
     * generation still uses (it waited for a fill, or asks again after a validation): it gets a retired state of its
     * own, which pools nothing, so its connections close after use.
     */
    Upstreams.LoopGroup group(Upstreams.Group g) {
        Upstreams.LoopGroup lg = groups.get(g);
        if (lg == null) {
            lg = new Upstreams.LoopGroup(g);
            lg.retire();
        }
        return lg;
    }

    /**
     * The loop's watchdog, one scheduled task per loop rather than one per connection: checks every client
     * connection's deadlines (request head, keep-alive idle, and through the exchange the upstream response and body
     * idle timeouts), every L4 relay's idle timeout and every fill's stall, and sweeps the upstream pools' idle
     * connections. A connection costs no timer of its own (no scheduled task created and cancelled per accept), and
     * the pools are swept even while no client is connected. (Splices are watched the same way, by their
     * {@link dev.sluice.splice.Splicer}'s own per-loop tick.)
     */
    void tick() {
        long now = System.nanoTime();
        if (!clients.isEmpty()) {
            // a snapshot: a tick may close connections, which leave the set
            for (ClientConnection c : clients.toArray(new ClientConnection[0])) {
                c.tick(now);
            }
        }
        if (!relays.isEmpty()) {
            for (TcpRelay r : relays.toArray(new TcpRelay[0])) {
                r.tick(now);
            }
        }
        for (Upstreams.LoopGroup g : groups.values()) {
            g.sweep(now);
        }
        if (!fills.isEmpty()) {
            for (Fill f : fills.toArray(new Fill[0])) {
                f.tick(now, fillIdleNanos, fillIdle);
            }
        }
        if (store != null) {
            store.reclaim(); // bodies whose last send let go come back even while nothing is stored
        }
    }

    /** Wires the cache into this loop (on the loop): its store, its sender, and the fills' stall timeout. */
    void cache(dev.sluice.shm.Store store, dev.sluice.splice.Splicer sender, java.time.Duration idle) {
        this.store = store;
        this.sender = sender;
        this.fillIdle = idle;
        this.fillIdleNanos = idle.toNanos();
    }

    /** The watchdog's period: a quarter of the shortest deadline it checks (L4 listeners' too), within [10 ms, 1 s]. */
    static long watchdogPeriodMillis(dev.sluice.conf.SluiceConfig config) {
        var t = config.timeouts();
        long min = Math.min(Math.min(t.requestHead().toMillis(), t.idle().toMillis()), t.upstreamResponse().toMillis());
        for (var u : config.upstreams().values()) {
            min = Math.min(min, u.responseTimeout().toMillis());
        }
        for (var l : config.listeners()) {
            if (l.mode() == dev.sluice.conf.SluiceConfig.ListenerMode.TCP) {
                min = Math.min(min, l.idleTimeout().toMillis());
            }
        }
        return Math.clamp(min / 4, 10, 1000);
    }

    /** Sluice is stopping: ends every client connection's exchange (splices cancelled first) and closes it. */
    void shutdownClients() {
        for (Fill f : new ArrayList<>(fills)) {
            f.fail("Sluice stopped");
        }
        for (ClientConnection c : new ArrayList<>(clients)) {
            c.shutdown();
        }
        for (TcpRelay r : new ArrayList<>(relays)) {
            r.stop();
        }
    }

    /** Connections and relays still open on this loop. */
    int open() {
        return clients.size() + relays.size();
    }

    void closeAll() {
        for (Upstreams.LoopGroup g : groups.values()) {
            g.closeAll();
        }
    }
}
