package dev.sluice.loadtest;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * A verifying HTTP/1.1 load client: N keep-alive connections (closed loop, one request at a time each), bounded by
 * a duration or a request count, checking status, framing, Content-Range and every body byte against
 * {@link Payload}. Any error, timeout, wrong status, short or long body, wrong range or wrong byte makes the run
 * {@link Result#failed() fail}.
 *
 * <pre>{@code
 * LoadClient.Result r = LoadClient.builder()
 *         .target("127.0.0.1", port).connections(8).duration(Duration.ofSeconds(10))
 *         .sizes("1m:8,64m:1").pid(proxyPid).build().run();
 * if (r.failed()) throw new AssertionError(r.humanLine() + " " + r.failureSamples());
 * }</pre>
 *
 * <p>Throughput, latency and CPU are measured over one window: from the end of the warmup to the duration's end
 * (requests still in flight then are finished and verified but only their bytes inside the window count), or, for a
 * request count, to the last response. Latency is request write to last body byte, successful requests only.
 */
public final class LoadClient {
    private final Builder b;

    private LoadClient(Builder b) {
        this.b = b;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Runs the load; returns when every slot stopped (bounded by duration or count, timeouts and a hard stop). */
    public Result run() {
        Workload wl = b.urls != null
                ? Workload.urls(b.urls, b.unique, b.range)
                : Workload.sizes(b.sizes, b.pathPrefix, b.query, b.unique, b.range);
        wl.upload(b.upload);
        StringBuilder extra = new StringBuilder("User-Agent: sluice-loadtest\r\n");
        for (String[] h : b.headers) {
            extra.append(h[0]).append(": ").append(h[1]).append("\r\n");
        }
        String host = b.hostHeader != null ? b.hostHeader : b.address.getHostString() + ":" + b.address.getPort();
        long requests = b.requests == null ? 0 : b.requests;
        LoadRun run = new LoadRun(b.address, host, extra.toString(), wl, b.verify, b.discard, b.timeout.toNanos(),
                requests, b.connections, b.seed);
        MultiThreadIoEventLoopGroup group = Transport.group(b.threads, "loadclient");
        List<ClientSlot> slots = new ArrayList<>();
        long cpu0self;
        Map<Long, long[]> cpu0;
        long machine0;
        long end;
        try {
            for (int i = 0; i < b.connections; i++) {
                slots.add(new ClientSlot(run, i, group.next()));
            }
            long t0 = System.nanoTime();
            long warm = b.warmup.toNanos();
            run.windowStart = t0 + warm;
            if (b.duration != null) {
                run.issueDeadline = run.windowStart + b.duration.toNanos();
                run.windowEnd = run.issueDeadline;
            }
            cpu0 = warm == 0 ? cpuTicks() : null;
            cpu0self = warm == 0 ? ProcCpu.selfTicks() : 0;
            machine0 = warm == 0 ? ProcCpu.machineBusyTicks() : -1;
            slots.forEach(ClientSlot::start);
            if (warm > 0) {
                awaitUntil(run, run.windowStart);
                cpu0 = cpuTicks();
                cpu0self = ProcCpu.selfTicks();
                machine0 = ProcCpu.machineBusyTicks();
            }
            long hardStop;
            if (b.duration != null) {
                awaitUntil(run, run.windowEnd);
                end = Math.min(System.nanoTime(), run.windowEnd);
                hardStop = run.windowEnd + run.timeoutNanos + TimeUnit.SECONDS.toNanos(2);
            } else {
                hardStop = t0 + warm + b.maxDuration.toNanos();
                end = 0;
            }
            Map<Long, long[]> cpu1 = b.duration != null ? cpuTicks() : null;
            long cpu1self = b.duration != null ? ProcCpu.selfTicks() : 0;
            long machine1 = b.duration != null ? ProcCpu.machineBusyTicks() : -1;
            if (!awaitUntil(run, hardStop)) {
                run.stopping = true;
                slots.forEach(ClientSlot::abort);
                awaitUntil(run, System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
            }
            if (b.duration == null) {
                end = System.nanoTime();
                run.windowEnd = end;
                cpu1 = cpuTicks();
                cpu1self = ProcCpu.selfTicks();
                machine1 = ProcCpu.machineBusyTicks();
            }
            run.stopping = true;
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            run.bodyCache.close();
            SlotStats total = new SlotStats();
            for (ClientSlot s : slots) {
                total.add(s.stats); // the loops have terminated: their writes happen-before this read
            }
            if (run.slotsDone.getCount() > 0) {
                total.errors++;
                run.sample(run.slotsDone.getCount() + " connection(s) did not stop");
            }
            double seconds = Math.max(0, end - run.windowStart) / 1e9;
            Map<Long, Double> cpu = new LinkedHashMap<>();
            double cpuTotal = 0;
            double cpuSystem = 0;
            boolean anyCpu = false;
            for (Long pid : b.pids) {
                long[] a = cpu0.get(pid);
                long[] z = cpu1.get(pid);
                double sec = a == null || z == null ? Double.NaN : ProcCpu.seconds(z[0] + z[1] - a[0] - a[1]);
                cpu.put(pid, sec);
                if (!Double.isNaN(sec)) {
                    cpuTotal += sec; // a PID that vanished mid-window (e.g. a helper process) adds nothing
                    cpuSystem += ProcCpu.seconds(z[1] - a[1]);
                    anyCpu = true;
                }
            }
            String mode = !b.verify ? (b.discard && Transport.EPOLL && SocketDiscard.unavailabilityCause() == null
                    ? "trunc" : "copy") : "verify";
            double machine = machine0 < 0 || machine1 < 0 ? Double.NaN : ProcCpu.seconds(machine1 - machine0);
            return Result.of(b.label, mode, b.connections, seconds, total, cpu, anyCpu ? cpuTotal : Double.NaN,
                    anyCpu ? cpuSystem : Double.NaN, ProcCpu.seconds(cpu1self - cpu0self), machine,
                    List.copyOf(run.samples));
        } finally {
            run.stopping = true;
            if (!group.isTerminated()) {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    /** {utime, stime} per watched PID; a PID that cannot be read is left out. */
    private Map<Long, long[]> cpuTicks() {
        Map<Long, long[]> m = new LinkedHashMap<>();
        for (Long pid : b.pids) {
            long[] us = ProcCpu.userSystemTicks(pid);
            if (us != null) {
                m.put(pid, us);
            }
        }
        return m;
    }

    /** Sleeps until the deadline or until every slot finished; true if they all finished. */
    private static boolean awaitUntil(LoadRun run, long deadline) {
        try {
            long wait = deadline - System.nanoTime();
            return run.slotsDone.await(Math.max(0, wait), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            run.stopping = true;
            return false;
        }
    }

    /**
     * The outcome of a run. Times in microseconds, CPU in seconds (per PID: utime + stime over the window, NaN if
     * unreadable; {@code cpuSystemSeconds}: the stime part of the total), throughput over the window. {@code mode}:
     * {@code verify} (every byte checked), {@code copy} (bodies read and dropped) or {@code trunc} (bodies dropped in
     * the kernel with recv MSG_TRUNC).
     */
    public record Result(String label, String mode, int connections, double seconds, long requests,
            long requestsTotal, long bytes, double requestsPerSecond, double gibPerSecond, double latencyP50Micros,
            double latencyP99Micros, double latencyP999Micros, double latencyMaxMicros, double latencyMeanMicros,
            long errors, long timeouts, long wrongStatus, long shortBodies, long longBodies, long wrongBytes,
            long wrongRange, long failedRequests, long connects, Map<Long, Double> cpuSeconds,
            double cpuTotalSeconds, double cpuSecondsPerGiB, double cpuMicrosPerRequest, double cpuSystemSeconds,
            double clientCpuSeconds, double machineCpuSeconds, double machineCpuSecondsPerGiB,
            double machineCpuMicrosPerRequest, List<String> failureSamples) {

        static Result of(String label, String mode, int connections, double seconds, SlotStats t,
                Map<Long, Double> cpu, double cpuTotal, double cpuSystem, double clientCpu, double machineCpu,
                List<String> samples) {
            Histogram h = t.latency;
            boolean any = h.getTotalCount() > 0;
            double gib = t.windowBytes / (double) (1L << 30);
            return new Result(label, mode, connections, seconds, t.windowRequests, t.completed, t.windowBytes,
                    seconds > 0 ? t.windowRequests / seconds : 0, seconds > 0 ? gib / seconds : 0,
                    any ? h.getValueAtPercentile(50) : Double.NaN, any ? h.getValueAtPercentile(99) : Double.NaN,
                    any ? h.getValueAtPercentile(99.9) : Double.NaN, any ? h.getMaxValue() : Double.NaN,
                    any ? h.getMean() : Double.NaN, t.errors, t.timeouts, t.wrongStatus, t.shortBodies,
                    t.longBodies, t.wrongBytes, t.wrongRange, t.failedRequests, t.connects,
                    java.util.Collections.unmodifiableMap(new LinkedHashMap<>(cpu)),
                    cpuTotal, gib > 0 ? cpuTotal / gib : Double.NaN,
                    t.windowRequests > 0 ? cpuTotal * 1e6 / t.windowRequests : Double.NaN, cpuSystem, clientCpu,
                    machineCpu, gib > 0 ? machineCpu / gib : Double.NaN,
                    t.windowRequests > 0 ? machineCpu * 1e6 / t.windowRequests : Double.NaN, samples);
        }

        /** True if anything went wrong, or nothing completed at all. */
        public boolean failed() {
            return errors + timeouts + wrongStatus + shortBodies + longBodies + wrongBytes + wrongRange > 0
                    || requestsTotal == 0;
        }

        /** The share of the watched processes' CPU spent in the kernel (stime / (utime + stime)), or NaN. */
        public double cpuSystemShare() {
            return cpuTotalSeconds > 0 ? cpuSystemSeconds / cpuTotalSeconds : Double.NaN;
        }

        public boolean verified() {
            return mode.equals("verify");
        }

        public String humanLine() {
            StringBuilder sb = new StringBuilder();
            if (label != null && !label.isEmpty()) {
                sb.append('[').append(label).append("] ");
            }
            sb.append(failed() ? "FAILED " : "ok ");
            sb.append(f("%d req in %.2f s, %d conns (%s): %.1f req/s, %.3f GiB/s", requests, seconds, connections,
                    mode, requestsPerSecond, gibPerSecond));
            sb.append(f(", latency p50 %s p99 %s p99.9 %s max %s", ms(latencyP50Micros), ms(latencyP99Micros),
                    ms(latencyP999Micros), ms(latencyMaxMicros)));
            sb.append(f("; errors %d timeouts %d wrong-status %d short %d long %d wrong-bytes %d wrong-range %d",
                    errors, timeouts, wrongStatus, shortBodies, longBodies, wrongBytes, wrongRange));
            if (!cpuSeconds.isEmpty()) {
                sb.append("; cpu");
                cpuSeconds.forEach((pid, s) -> sb.append(f(" %d:%.2fs", pid, s)));
                sb.append(f(" (%.3f s/GiB, %.1f us/req, %.0f%% in the kernel)", cpuSecondsPerGiB, cpuMicrosPerRequest,
                        cpuSystemShare() * 100));
            }
            sb.append(f("; client cpu %.2fs", clientCpuSeconds));
            if (!Double.isNaN(machineCpuSeconds)) {
                sb.append(f("; machine cpu %.2fs (%.3f s/GiB)", machineCpuSeconds, machineCpuSecondsPerGiB));
            }
            return sb.toString();
        }

        /** One JSON object on one line. */
        public String json() {
            StringBuilder sb = new StringBuilder("{");
            kv(sb, "label", label);
            kv(sb, "ok", !failed());
            kv(sb, "mode", mode);
            kv(sb, "connections", connections);
            kv(sb, "seconds", seconds);
            kv(sb, "requests", requests);
            kv(sb, "requests_total", requestsTotal);
            kv(sb, "bytes", bytes);
            kv(sb, "req_per_s", requestsPerSecond);
            kv(sb, "gib_per_s", gibPerSecond);
            kv(sb, "p50_us", latencyP50Micros);
            kv(sb, "p99_us", latencyP99Micros);
            kv(sb, "p999_us", latencyP999Micros);
            kv(sb, "max_us", latencyMaxMicros);
            kv(sb, "mean_us", latencyMeanMicros);
            kv(sb, "errors", errors);
            kv(sb, "timeouts", timeouts);
            kv(sb, "wrong_status", wrongStatus);
            kv(sb, "short_bodies", shortBodies);
            kv(sb, "long_bodies", longBodies);
            kv(sb, "wrong_bytes", wrongBytes);
            kv(sb, "wrong_range", wrongRange);
            kv(sb, "failed_requests", failedRequests);
            kv(sb, "connects", connects);
            sb.append("\"cpu\":{");
            String sep = "";
            for (Map.Entry<Long, Double> e : cpuSeconds.entrySet()) {
                sb.append(sep).append('"').append(e.getKey()).append("\":").append(num(e.getValue()));
                sep = ",";
            }
            sb.append("},");
            kv(sb, "cpu_s", cpuTotalSeconds);
            kv(sb, "cpu_s_per_gib", cpuSecondsPerGiB);
            kv(sb, "cpu_us_per_req", cpuMicrosPerRequest);
            kv(sb, "cpu_sys_s", cpuSystemSeconds);
            kv(sb, "client_cpu_s", clientCpuSeconds);
            kv(sb, "machine_cpu_s", machineCpuSeconds);
            kv(sb, "machine_cpu_s_per_gib", machineCpuSecondsPerGiB);
            kv(sb, "machine_cpu_us_per_req", machineCpuMicrosPerRequest);
            sb.append("\"samples\":[");
            sep = "";
            for (String s : failureSamples) {
                sb.append(sep).append(quote(s));
                sep = ",";
            }
            return sb.append("]}").toString();
        }

        public static String csvHeader() {
            return "label,ok,mode,connections,seconds,requests,requests_total,bytes,req_per_s,gib_per_s,p50_us,"
                    + "p99_us,p999_us,max_us,mean_us,errors,timeouts,wrong_status,short_bodies,long_bodies,"
                    + "wrong_bytes,wrong_range,connects,cpu_s,cpu_s_per_gib,cpu_us_per_req,client_cpu_s,machine_cpu_s,"
                    + "machine_cpu_s_per_gib,machine_cpu_us_per_req,pid_cpu,cpu_sys_s";
        }

        public String csv() {
            StringBuilder pidCpu = new StringBuilder();
            cpuSeconds.forEach((pid, s) -> pidCpu.append(pidCpu.isEmpty() ? "" : ";").append(pid).append('=')
                    .append(num(s)));
            return String.join(",", csvField(label), String.valueOf(!failed()), mode, String.valueOf(connections),
                    num(seconds), String.valueOf(requests), String.valueOf(requestsTotal), String.valueOf(bytes),
                    num(requestsPerSecond), num(gibPerSecond), num(latencyP50Micros), num(latencyP99Micros),
                    num(latencyP999Micros), num(latencyMaxMicros), num(latencyMeanMicros), String.valueOf(errors),
                    String.valueOf(timeouts), String.valueOf(wrongStatus), String.valueOf(shortBodies),
                    String.valueOf(longBodies), String.valueOf(wrongBytes), String.valueOf(wrongRange),
                    String.valueOf(connects), num(cpuTotalSeconds), num(cpuSecondsPerGiB), num(cpuMicrosPerRequest),
                    num(clientCpuSeconds), num(machineCpuSeconds), num(machineCpuSecondsPerGiB),
                    num(machineCpuMicrosPerRequest), pidCpu.toString(), num(cpuSystemSeconds));
        }

        private static String csvField(String s) {
            if (s == null) {
                return "";
            }
            return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
        }

        private static String f(String fmt, Object... args) {
            return String.format(Locale.ROOT, fmt, args);
        }

        private static String ms(double micros) {
            if (Double.isNaN(micros)) {
                return "-";
            }
            return micros >= 1000 ? f("%.2fms", micros / 1000) : f("%.0fus", micros);
        }

        private static String num(double v) {
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                return "null";
            }
            if (v == Math.rint(v) && Math.abs(v) < 1e15) {
                return Long.toString((long) v);
            }
            return f("%.6g", v);
        }

        private static void kv(StringBuilder sb, String k, Object v) {
            sb.append('"').append(k).append("\":");
            if (v == null) {
                sb.append("null");
            } else if (v instanceof String s) {
                sb.append(quote(s));
            } else if (v instanceof Double d) {
                sb.append(num(d));
            } else {
                sb.append(v);
            }
            sb.append(',');
        }

        private static String quote(String s) {
            StringBuilder sb = new StringBuilder("\"");
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            return sb.append('"').toString();
        }
    }

    public static final class Builder {
        private InetSocketAddress address;
        private String hostHeader;
        private int connections = 1;
        private int threads = 1;
        private Duration duration;
        private Long requests;
        private Duration warmup = Duration.ZERO;
        private Duration timeout = Duration.ofSeconds(10);
        private Duration maxDuration = Duration.ofHours(1);
        private List<String> urls;
        private String sizes = "1k";
        private String pathPrefix = "/lt";
        private String query = "";
        private boolean unique;
        private String range;
        private boolean verify = true;
        private boolean discard = true;
        private boolean upload;
        private final List<String[]> headers = new ArrayList<>();
        private final List<Long> pids = new ArrayList<>();
        private String label = "";
        private long seed = 42;

        private Builder() {}

        public Builder target(String host, int port) {
            return target(new InetSocketAddress(host, port));
        }

        public Builder target(InetSocketAddress address) {
            this.address = java.util.Objects.requireNonNull(address, "address");
            return this;
        }

        /** Host header (default host:port of the target). */
        public Builder hostHeader(String host) {
            this.hostHeader = host;
            return this;
        }

        public Builder connections(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("connections must be >= 1: " + n);
            }
            this.connections = n;
            return this;
        }

        /** Client event loop threads (default 1; the machine under test needs the cores). */
        public Builder threads(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("threads must be >= 1: " + n);
            }
            this.threads = n;
            return this;
        }

        /** Measured duration (after the warmup). Either this or {@link #requests} bounds the run. */
        public Builder duration(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("duration must be > 0: " + d);
            }
            this.duration = d;
            return this;
        }

        /** Total requests (warmup included). */
        public Builder requests(long n) {
            if (n < 1) {
                throw new IllegalArgumentException("requests must be >= 1: " + n);
            }
            this.requests = n;
            return this;
        }

        /** Requests completing during the warmup are verified but not measured. */
        public Builder warmup(Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("warmup must be >= 0: " + d);
            }
            this.warmup = d;
            return this;
        }

        /** A request with no byte received for this long fails as a timeout (default 10 s). */
        public Builder timeout(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeout must be > 0: " + d);
            }
            this.timeout = d;
            return this;
        }

        /** Hard bound for count-bounded runs (default 1 h). */
        public Builder maxDuration(Duration d) {
            this.maxDuration = d;
            return this;
        }

        /** Request targets (path and query), used round robin; overrides {@link #sizes}. */
        public Builder urls(List<String> targets) {
            if (targets.isEmpty()) {
                throw new IllegalArgumentException("urls is empty");
            }
            this.urls = List.copyOf(targets);
            return this;
        }

        /** A weighted size mix, e.g. {@code 1m:8,64m:1}, requested as {@code PREFIX/SIZE?size=SIZE[&QUERY]}. */
        public Builder sizes(String mix) {
            Workload.sizes(mix, "/", "", false, null); // validate now
            this.sizes = mix;
            return this;
        }

        public Builder pathPrefix(String prefix) {
            this.pathPrefix = prefix;
            return this;
        }

        /** Extra query parameters for generated targets, e.g. {@code cc=max-age%3D3600}. */
        public Builder query(String query) {
            this.query = query;
            return this;
        }

        /** A distinct path per request (defeats caches). */
        public Builder unique(boolean unique) {
            this.unique = unique;
            return this;
        }

        /** Single Range requests: {@code a-b}, {@code a-}, {@code -n} (sizes with k/m/g) or {@code random}. */
        public Builder range(String spec) {
            Workload.Range.parse(spec);
            this.range = spec;
            return this;
        }

        /** Check every body byte (default). Off: count bytes only (for peak runs). */
        public Builder verify(boolean verify) {
            this.verify = verify;
            return this;
        }

        /** When not verifying, drop Content-Length bodies in the kernel with recv(MSG_TRUNC) (default on). */
        public Builder discardInKernel(boolean discard) {
            this.discard = discard;
            return this;
        }

        /**
         * PUT each target's payload ({@code size=} bytes, streamed under backpressure) instead of GET; expects the
         * loadtest origin's 201 with {@code X-Body-Verified: ok} and {@code X-Received-Bytes} equal to the size.
         * Ranges are ignored. Throughput counts uploaded bytes.
         */
        public Builder upload(boolean upload) {
            this.upload = upload;
            return this;
        }

        public Builder header(String name, String value) {
            if (!OriginRequest.isToken(name) || !OriginRequest.fieldValue(value)) {
                throw new IllegalArgumentException("bad header " + name + ": " + value);
            }
            headers.add(new String[] {name, value});
            return this;
        }

        /** A process whose CPU time over the window is reported. */
        public Builder pid(long pid) {
            pids.add(pid);
            return this;
        }

        public Builder pids(Collection<Long> pids) {
            this.pids.addAll(pids);
            return this;
        }

        public Builder label(String label) {
            this.label = label;
            return this;
        }

        /** Seed for size-mix choices and random ranges (default 42: runs are repeatable). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public LoadClient build() {
            if (address == null) {
                throw new IllegalStateException("target is required");
            }
            if (duration == null && requests == null) {
                throw new IllegalStateException("duration or requests is required");
            }
            return new LoadClient(this);
        }
    }
}
