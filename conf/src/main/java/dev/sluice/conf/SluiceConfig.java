package dev.sluice.conf;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole validated configuration, immutable. Built by {@link ConfigLoader}; every default comes
 * from {@code reference.conf}.
 *
 * @param source where the configuration came from (a file path or "built-in demo")
 */
public record SluiceConfig(
        String source,
        int eventLoops,
        LoopScheduling eventLoopScheduling,
        Transport transport,
        List<ListenerConfig> listeners,
        Map<String, UpstreamConfig> upstreams,
        List<RouteConfig> routes,
        Timeouts timeouts,
        Limits limits,
        SpliceConfig splice,
        CacheConfig cache,
        AdminConfig admin,
        AccessLogConfig accessLog,
        DemoConfig demo,
        LeakDetection bufferLeakDetection) {

    public SluiceConfig {
        listeners = List.copyOf(listeners);
        upstreams = Map.copyOf(upstreams);
        routes = List.copyOf(routes);
    }

    /** Event loops to run: the configured count, or one per available core. */
    public int effectiveEventLoops() {
        return eventLoops > 0 ? eventLoops : Runtime.getRuntime().availableProcessors();
    }

    public enum Transport { AUTO, IO_URING, EPOLL, NIO }

    /** Scheduling policy of the event loop threads (Linux SCHED_OTHER or SCHED_BATCH). */
    public enum LoopScheduling { NORMAL, BATCH }

    /** Netty's buffer leak detection level, process-wide: none, sampled (1 in 128), sampled with access records, every buffer. */
    public enum LeakDetection { DISABLED, SIMPLE, ADVANCED, PARANOID }

    public enum ListenerMode { HTTP, TCP }

    public enum Balance { ROUND_ROBIN, LEAST_CONNECTIONS }

    public enum ZeroCopy { AUTO, SPLICE, COPY }

    public enum AccessLogFormat { JSON, COMBINED }

    /** host may be "0.0.0.0" or a name; port 0 binds an ephemeral port (tests). */
    public record HostPort(String host, int port) {
        @Override
        public String toString() {
            return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
        }
    }

    /** tcpCongestion "" = the system's net.ipv4.tcp_congestion_control. */
    public record ListenerConfig(String name, ListenerMode mode, HostPort address, String upstream,
            Duration idleTimeout, ZeroCopy zeroCopy, String tcpCongestion) {}

    public record ServerConfig(HostPort address, int weight) {}

    /** tcpCongestion "" = the system's net.ipv4.tcp_congestion_control. */
    public record UpstreamConfig(String name, Balance balance, List<ServerConfig> servers,
            Duration connectTimeout, Duration responseTimeout, int poolMaxIdle, Duration poolIdleTimeout,
            String tcpCongestion, S3Credentials s3) {
        public UpstreamConfig {
            servers = List.copyOf(servers);
        }

        /** Without S3 credentials. */
        public UpstreamConfig(String name, Balance balance, List<ServerConfig> servers, Duration connectTimeout,
                Duration responseTimeout, int poolMaxIdle, Duration poolIdleTimeout, String tcpCongestion) {
            this(name, balance, servers, connectTimeout, responseTimeout, poolMaxIdle, poolIdleTimeout, tcpCongestion,
                    null);
        }
    }

    /**
     * An upstream group's s3 section: SigV4 credentials for warm jobs' listings, and for the requests of the methods
     * in {@code signedMethods} (uppercase; empty = requests go as clients send them). Never printed whole.
     */
    public record S3Credentials(String region, String accessKey, String secretKey, Set<String> signedMethods) {
        public S3Credentials {
            signedMethods = java.util.Collections.unmodifiableSortedSet(new java.util.TreeSet<>(signedMethods));
        }

        /** Listings only: no request is signed. */
        public S3Credentials(String region, String accessKey, String secretKey) {
            this(region, accessKey, secretKey, Set.of());
        }

        /** Whether requests of this method are sent signed with these credentials. */
        public boolean signs(String method) {
            return signedMethods.contains(method);
        }

        @Override
        public String toString() {
            return "S3Credentials[region=" + region + ", accessKey=" + accessKey + ", secretKey=(set), signedMethods="
                    + signedMethods + "]";
        }
    }

    /** value "" matches any value of a present header. */
    public record HeaderMatch(String name, String value) {}

    /** host "" = any; "*.example.com" matches subdomains of example.com; header may be null. */
    public record RouteConfig(String name, String listener, String host, String pathPrefix,
            HeaderMatch header, String upstream, ZeroCopy zeroCopy, RouteCache cache) {}

    /**
     * Per-route cache. defaultTtl ZERO = off; heuristicMax ZERO = no heuristic freshness; staleWhileRevalidate and
     * staleIfError are what the route allows when a response says nothing of its own (ZERO = nothing).
     */
    public record RouteCache(boolean enabled, Duration defaultTtl, List<Integer> defaultTtlStatuses, QueryKey query,
            boolean storeSetCookie, Duration heuristicMax, Duration staleWhileRevalidate, Duration staleIfError) {
        public RouteCache {
            defaultTtlStatuses = List.copyOf(defaultTtlStatuses);
        }

        /** A route that does not cache. */
        public static RouteCache off() {
            return new RouteCache(false, Duration.ZERO, List.of(), new QueryKey(QueryMode.ALL, List.of()), false,
                    Duration.ZERO, Duration.ZERO, Duration.ZERO);
        }
    }

    /** Which query parameters are part of a cache key: the whole query, none, or only the ones named. */
    public enum QueryMode { ALL, NONE, ONLY }

    /** names: the parameters kept, in order, for ONLY; empty otherwise. */
    public record QueryKey(QueryMode mode, List<String> names) {
        public QueryKey {
            names = List.copyOf(names);
        }
    }

    public record Timeouts(Duration connect, Duration requestHead, Duration idle, Duration upstreamResponse) {}

    /**
     * maxRequestBody 0 = unlimited. maxConnections: open client connections of the whole process, 0 = derived at
     * start from RLIMIT_NOFILE.
     */
    public record Limits(int maxRequestTarget, int maxHeaderSize, long maxRequestBody, int maxResponseHeaderSize,
            BodyRate minRequestBodyRate, int maxConnections) {}

    /**
     * The least a request body must bring: at least {@code bytesPerSecond * window} bytes in every {@code window}
     * since its head arrived. {@code bytesPerSecond} 0 = no minimum.
     */
    public record BodyRate(long bytesPerSecond, Duration window) {
        public boolean enabled() {
            return bytesPerSecond > 0;
        }
    }

    /** Pipes per loop, pipe buffer size, smallest remainder spliced under zero-copy = auto. */
    public record SpliceConfig(int maxPipes, int pipeSize, long minBytes, int batchMax, Duration batchDelay) {}

    /**
     * Process-wide cache settings. memory 0 = no cache: routes' cache sections are then ignored (logged once at start
     * by the proxy). tagHeader: the response field whose values tag entries for purges by tag ("" = none).
     */
    public record CacheConfig(long memory, long maxObjectSize, long fillOnAbortMax, CacheLock lock, CacheSend send,
            Duration hitForPass, CacheFill fill, String tagHeader, WarmConfig warm) {
        /** With the default warm settings. */
        public CacheConfig(long memory, long maxObjectSize, long fillOnAbortMax, CacheLock lock, CacheSend send,
                Duration hitForPass, CacheFill fill, String tagHeader) {
            this(memory, maxObjectSize, fillOnAbortMax, lock, send, hitForPass, fill, tagHeader, WarmConfig.DEFAULTS);
        }
    }

    /**
     * Warm jobs (POST /cache/warm): at most maxJobs at once (running ones and finished ones still kept), finished
     * ones kept for keepFinished, and at most maxInFlight warm fetches of background jobs at once, all jobs together,
     * which wait while the machine's CPU use is at or above maxCpuPercent (100: never).
     */
    public record WarmConfig(int maxJobs, Duration keepFinished, int maxInFlight, int maxCpuPercent) {
        /** reference.conf's values. */
        public static final WarmConfig DEFAULTS = new WarmConfig(16, Duration.ofHours(1), 16, 80);
    }

    /** Whether the cache memory is mlocked: labels off | try | required. */
    public enum CacheLock { OFF, TRY, REQUIRED }

    /** How cache hits are sent: labels auto | write | send-zc | splice | sendfile. */
    public enum CacheSend { AUTO, WRITE, SEND_ZC, SPLICE, SENDFILE }

    /**
     * How a miss's body gets into the cache: labels receive | tee. receive reads the upstream socket straight into
     * the extent's mapping and every client is sent from there; tee splices the upstream socket into a pipe, tees
     * that into a second pipe spliced into the store's memfd, and splices the first to the leading client.
     */
    public enum CacheFill { RECEIVE, TEE }

    /**
     * The admin listener. token: the bearer token every endpoint but /health requires, "" = none (then the address
     * is a loopback one: the loader refuses anything else). Never printed: {@link #toString} redacts it.
     */
    public record AdminConfig(boolean enabled, HostPort address, int eventLoops, String token) {
        @Override
        public String toString() {
            return "AdminConfig[enabled=" + enabled + ", address=" + address + ", eventLoops=" + eventLoops
                    + ", token=" + (token.isEmpty() ? "none" : "(set)") + "]";
        }
    }

    public record AccessLogConfig(boolean enabled, AccessLogFormat format, String target) {}

    public record DemoConfig(boolean enabled, HostPort originAddress) {}
}
