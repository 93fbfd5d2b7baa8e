package dev.sluice.proxy;

import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What one event loop owns (shared-nothing): its upstream pools and balancer state per group and its
 * splice path. Touched only from its loop, so nothing here needs a lock or volatile.
 */
final class LoopContext {
    final EventLoop loop;
    final int index;
    private final Map<Upstreams.Group, Upstreams.LoopGroup> groups = new HashMap<>();
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
     * Sends cache hits from shared memory: the loop's splicer where it can splice (then the same object as
     * {@link #splicer}), else one that only writes. Null when there is no cache.
     */
    dev.sluice.splice.Splicer sender;
    /** The cache's store for bodies this loop fills; null when there is no cache. */
    dev.sluice.shm.Store store;
    private long fillIdleNanos;
    private java.time.Duration fillIdle;

    LoopContext(EventLoop loop, int index, Iterable<Upstreams.Group> all) {
        this.loop = loop;
        this.index = index;
        for (Upstreams.Group g : all) {
            groups.put(g, new Upstreams.LoopGroup(g));
        }
    }

    Upstreams.LoopGroup group(Upstreams.Group g) {
        return groups.get(g);
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
