package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.Balance;
import dev.sluice.conf.SluiceConfig.HostPort;
import dev.sluice.conf.SluiceConfig.UpstreamConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/** Upstream groups: shared immutable part ({@link Group}) and per-loop state ({@link LoopGroup}). */
final class Upstreams {
    private static final System.Logger LOG = System.getLogger(Upstreams.class.getName());

    private Upstreams() {}

    /** One configured group, shared by all loops. Only its meters are touched from several loops. */
    static final class Group {
        final String name;
        final UpstreamConfig config;
        final InetSocketAddress[] addresses;
        final String[] labels;
        final long connectTimeoutMillis;
        final long responseTimeoutNanos;
        final long poolIdleNanos;
        final AtomicInteger open;
        final Counter connectOk;
        final Counter connectRefused;
        final Counter connectTimeout;
        final Counter connectError;
        final Counter reused;
        /** Connections closed because the server sent bytes no request asked for (a desync avoided). */
        final Counter surplus;
        private final LogLimiter surplusLog = new LogLimiter(java.time.Duration.ofSeconds(10));
        private final LogLimiter connectLog = new LogLimiter(java.time.Duration.ofSeconds(10));
        /** TCP_CONGESTION for connections to this group's servers; null: the system's. */
        final TcpCongestion congestion;

        /**
         * @param open the count of open connections to servers of this name, one for the life of the process (see
         *             {@link ProxyMetrics#upstreamOpen}): a reload that changes the group replaces this object, and the
         *             count goes on over the connections of both while the old one's drain
         */
        Group(UpstreamConfig config, MeterRegistry registry, AtomicInteger open) {
            this.name = config.name();
            this.open = open;
            this.config = config;
            int n = config.servers().size();
            this.addresses = new InetSocketAddress[n];
            this.labels = new String[n];
            for (int i = 0; i < n; i++) {
                HostPort hp = config.servers().get(i).address();
                // resolved once at start; a name that does not resolve fails at connect (502)
                addresses[i] = new InetSocketAddress(hp.host(), hp.port());
                labels[i] = hp.toString();
            }
            this.connectTimeoutMillis = config.connectTimeout().toMillis();
            this.responseTimeoutNanos = config.responseTimeout().toNanos();
            this.poolIdleNanos = config.poolIdleTimeout().toNanos();
            connectOk = connects(registry, "ok");
            connectRefused = connects(registry, "refused");
            connectTimeout = connects(registry, "timeout");
            connectError = connects(registry, "error");
            congestion = TcpCongestion.forUpstream(config.tcpCongestion(), name, registry);
            reused = Counter.builder("sluice.upstream.reused").description("Requests sent on a pooled keep-alive connection")
                    .tag("upstream", name).register(registry);
            surplus = Counter.builder("sluice.upstream.surplus").description("Upstream connections closed because the"
                    + " server sent bytes no request asked for (after a response, or while idle in the pool)")
                    .tag("upstream", name).register(registry);
        }

        /**
         * A server of this group sent bytes beyond its responses: its connection is being closed, never reused (the
         * bytes would be read as the answer to the next request sent on it). Counted; logged at most every 10 s.
         */
        void surplus(String server, String what) {
            surplus.increment();
            long more = surplusLog.admit();
            if (more >= 0) {
                LOG.log(System.Logger.Level.WARNING, "upstream {0} ({1}) sent {2}; its connection is closed, not reused{3}",
                        name, server, what, LogLimiter.more(more));
            }
        }

        /**
         * Counts a failed connect by its kind (timeout, refused, other) and logs it at most once per 10 s for the
         * group (a server that is down would otherwise log a line per request).
         */
        void connectFailed(Throwable cause, String reason) {
            long more = connectLog.admit();
            if (more >= 0) {
                LOG.log(System.Logger.Level.WARNING, "upstream {0}: {1}{2}", name, reason, LogLimiter.more(more));
            }
            if (cause instanceof io.netty.channel.ConnectTimeoutException) {
                connectTimeout.increment();
            } else if (cause instanceof java.net.ConnectException) {
                connectRefused.increment();
            } else {
                connectError.increment();
            }
        }

        private Counter connects(MeterRegistry registry, String result) {
            return Counter.builder("sluice.upstream.connects").description("Upstream connection attempts by result")
                    .tag("upstream", name).tag("result", result).register(registry);
        }
    }

    /** A group's per-loop state: balancer position, in-flight counts, idle keep-alive pools. */
    static final class LoopGroup {
        final Group group;
        final ArrayDeque<UpstreamConnection>[] idle;
        final int[] active;
        private final int[] current;
        private final int totalWeight;
        private int rr;
        /**
         * The group is no longer in the loop's configuration generation (a reload changed or removed it): exchanges
         * that started before still use it to their end, but nothing is pooled any more, so its connections close as
         * their exchanges finish and the pool drains to nothing.
         */
        private boolean retired;

        @SuppressWarnings("unchecked")
        LoopGroup(Group group) {
            this.group = group;
            int n = group.addresses.length;
            this.idle = new ArrayDeque[n];
            for (int i = 0; i < n; i++) {
                idle[i] = new ArrayDeque<>();
            }
            this.active = new int[n];
            this.current = new int[n];
            int total = 0;
            for (var s : group.config.servers()) {
                total += s.weight();
            }
            this.totalWeight = total;
        }

        /**
         * Picks a server not in {@code exclude} (a bit per server index, for retries after connect
         * failures); -1 when every server was tried.
         */
        int pick(long exclude) {
            int n = group.addresses.length;
            if (group.config.balance() == Balance.LEAST_CONNECTIONS) {
                int best = -1;
                double bestLoad = Double.MAX_VALUE;
                for (int k = 0; k < n; k++) {
                    int i = (rr + k) % n;
                    if (excluded(exclude, i)) {
                        continue;
                    }
                    double load = (double) active[i] / group.config.servers().get(i).weight();
                    if (load < bestLoad) {
                        bestLoad = load;
                        best = i;
                    }
                }
                rr = (rr + 1) % n;
                return best;
            }
            // smooth weighted round-robin (as nginx): no bursts toward the heaviest server
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (excluded(exclude, i)) {
                    continue;
                }
                current[i] += group.config.servers().get(i).weight();
                if (best < 0 || current[i] > current[best]) {
                    best = i;
                }
            }
            if (best >= 0) {
                current[best] -= totalWeight;
            }
            return best;
        }

        private static boolean excluded(long mask, int i) {
            return i < 64 && (mask & (1L << i)) != 0;
        }

        /** Most recently used idle connection that is still open, or null. */
        UpstreamConnection pollIdle(int server, long now) {
            ArrayDeque<UpstreamConnection> q = idle[server];
            UpstreamConnection c;
            while ((c = q.pollFirst()) != null) {
                if (c.channel.isActive() && now - c.idleSinceNanos < group.poolIdleNanos) {
                    return c;
                }
                c.channel.close();
            }
            return null;
        }

        /**
         * The exchange or fill that used {@code c} (a connection to {@code server}) is done with it: back to the pool
         * when its framing left nothing in doubt and it is still open, else closed.
         */
        void done(int server, UpstreamConnection c, boolean reusable) {
            active[server]--;
            if (reusable && c.channel.isActive()) {
                c.idle();
                release(server, c, System.nanoTime());
            } else {
                c.user = null;
                c.channel.close();
            }
        }

        void release(int server, UpstreamConnection c, long now) {
            ArrayDeque<UpstreamConnection> q = idle[server];
            if (retired || q.size() >= group.config.poolMaxIdle() || !c.channel.isActive()) {
                c.channel.close();
                return;
            }
            c.idleSinceNanos = now;
            q.addFirst(c);
        }

        /** Closes connections idle for longer than the pool's idle timeout (oldest are at the tail). */
        void sweep(long now) {
            for (ArrayDeque<UpstreamConnection> q : idle) {
                UpstreamConnection c;
                while ((c = q.peekLast()) != null && now - c.idleSinceNanos >= group.poolIdleNanos) {
                    q.pollLast();
                    c.channel.close();
                }
            }
        }

        void remove(int server, UpstreamConnection c) {
            idle[server].remove(c);
        }

        /** Out of the generation (see {@link #retired}): idle connections close now, busy ones when their exchange ends. */
        void retire() {
            retired = true;
            closeAll();
        }

        void closeAll() {
            for (ArrayDeque<UpstreamConnection> q : idle) {
                UpstreamConnection c;
                while ((c = q.pollFirst()) != null) {
                    c.channel.close();
                }
            }
        }
    }
}
