package dev.sluice.loadtest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The peer benchmark's driver (started by {@code loadtest/bench.sh}, which starts and stops the servers): runs every
 * workload against every target, interleaved (rep, workload, then targets in rotating order, so drift on this shared
 * machine hits all alike), and writes {@code runs.csv}, {@code summary.csv}, {@code summary.md} and a gnuplot script
 * for the chart. CPU is that of each target's process tree (root PID and descendants) over the measured window.
 *
 * <pre>
 * BenchMain --out DIR --reps 3 --duration 3s --warmup 1s --settle 2s --workloads A1,A8,B,D [--verify]
 *           [--origin 127.0.0.1:19000] --target sluice=127.0.0.1:18080@PID --target nginx=127.0.0.1:18081@PID ...
 * </pre>
 * Before the measured runs every target is checked for correctness, then (with {@code --settle}) loaded with every
 * workload for that long, unmeasured: a JVM server compiles its hot paths and fills its heap's young generation
 * during its first seconds under load, and a benchmark is about the steady state a server runs in for days.
 * With {@code --origin} (the {@link OriginMain} every target proxies to) each run also counts the requests that
 * reached the origin, so the report shows whether a target served a workload from its cache. Fill workloads (unique
 * keys, F) are checked, settled and measured after all the others, so that what they store cannot evict the objects
 * the hit workloads are measured on.
 * Exit status 1 if any run (or the correctness check that precedes each target's first run) failed.
 */
public final class BenchMain {
    /** A workload: what to request and how many connections. */
    record Workload(String name, String description, String sizes, String prefix, String query, int connections,
            boolean perRequest, boolean unique) {
        Workload(String name, String description, String sizes, String prefix, String query, int connections,
                boolean perRequest) {
            this(name, description, sizes, prefix, query, connections, perRequest, false);
        }
    }

    static final Map<String, Workload> WORKLOADS = new LinkedHashMap<>();

    static {
        String pass = "cc=no-store";
        String hit = "cc=public,max-age%3D3600";
        WORKLOADS.put("A1", new Workload("A1", "64 MiB pass-through, 1 conn", "64m", "/pass", pass, 1, false));
        WORKLOADS.put("A8", new Workload("A8", "64 MiB pass-through, 8 conns", "64m", "/pass", pass, 8, false));
        WORKLOADS.put("B", new Workload("B", "1 MiB pass-through, 16 conns", "1m", "/pass", pass, 16, false));
        // cache hits after warming (the warm-up requests fill the caches); a target without a cache, or an
        // object over its cache's size limit, serves these as pass-through
        WORKLOADS.put("C1", new Workload("C1", "1 MiB cache hits, 16 conns", "1m", "/hit", hit, 16, false));
        WORKLOADS.put("C64", new Workload("C64", "64 MiB cache hits, 8 conns", "64m", "/hit", hit, 8, false));
        // C64k: hits at the size between D and C1 (the send-mechanism table, loadtest/cache-send.sh)
        WORKLOADS.put("C64k", new Workload("C64k", "64 KiB cache hits, 16 conns", "64k", "/hit", hit, 16, false));
        WORKLOADS.put("D", new Workload("D", "1 KiB cache hits, 64 conns", "1k", "/hit", hit, 64, true));
        // fills: cacheable 1 MiB responses on paths never requested before in the run (a random prefix per client
        // JVM, a counter per run, the connection and its sequence number), so every request is a miss that stores
        WORKLOADS.put("F", new Workload("F", "1 MiB cache misses that store (unique keys), 16 conns", "1m", "/hit",
                hit, 16, false, true));
        WORKLOADS.put("Dp", new Workload("Dp", "1 KiB pass-through, 64 conns", "1k", "/pass", pass, 64, true));
        // chunked pass-through (Transfer-Encoding: chunked from the origin): big chunks, and chunks at the size
        // where a proxy that splices chunk data stops doing so
        WORKLOADS.put("E", new Workload("E", "4 MiB chunked (1 MiB chunks), 16 conns", "4m", "/pass",
                pass + "&chunked=1&chunk=1048576", 16, false));
        WORKLOADS.put("E64", new Workload("E64", "4 MiB chunked (64 KiB chunks), 16 conns", "4m", "/pass",
                pass + "&chunked=1&chunk=65536", 16, false));
        WORKLOADS.put("Bp", WORKLOADS.get("B")); // the earlier name of B
    }

    record Target(String name, String host, int port, long pid) {}

    /** {@code originRequests}: requests the origin completed during the run (warmup included), -1 if unknown. */
    record Run(int rep, Workload w, Target t, LoadClient.Result r, long originRequests) {
        /** Origin requests per client request (warmup included): ~0 for cache hits, ~1 for misses and passes. */
        double originPerRequest() {
            return originRequests < 0 || r.requestsTotal() == 0 ? Double.NaN
                    : originRequests / (double) r.requestsTotal();
        }
    }

    private BenchMain() {}

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
        }
    }

    static int run(String[] args) {
        Path out = null;
        int reps = 3;
        Duration duration = Duration.ofSeconds(3);
        Duration warmup = Duration.ofSeconds(1);
        String durationText = "3s";
        String warmupText = "1s";
        Duration settle = Duration.ZERO;
        String settleText = "0s";
        List<Workload> workloads = new ArrayList<>();
        List<Target> targets = new ArrayList<>();
        boolean verify = false;
        int threads = 1;
        String origin = null;
        for (int i = 0; i < args.length; i++) {
            String opt = args[i];
            if (opt.equals("--verify")) {
                verify = true;
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(opt + " needs a value");
            }
            String v = args[++i];
            switch (opt) {
                case "--out" -> out = Path.of(v);
                case "--reps" -> reps = Integer.parseInt(v);
                case "--duration" -> {
                    duration = LoadClientMain.duration(v);
                    durationText = v;
                }
                case "--warmup" -> {
                    warmup = LoadClientMain.duration(v);
                    warmupText = v;
                }
                case "--settle" -> {
                    settle = LoadClientMain.duration(v);
                    settleText = v;
                }
                case "--threads" -> threads = Integer.parseInt(v);
                case "--workloads" -> {
                    for (String w : v.split(",")) {
                        Workload wl = WORKLOADS.get(w.strip());
                        if (wl == null) {
                            throw new IllegalArgumentException("unknown workload " + w + "; known: "
                                    + WORKLOADS.keySet());
                        }
                        workloads.add(wl);
                    }
                }
                case "--target" -> targets.add(target(v));
                case "--origin" -> origin = v;
                default -> throw new IllegalArgumentException("unknown option " + opt);
            }
        }
        if (out == null || targets.isEmpty() || workloads.isEmpty()) {
            throw new IllegalArgumentException("--out, --target and --workloads are required");
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        boolean failed = false;
        List<Run> runs = new ArrayList<>();
        StringBuilder csv = new StringBuilder("rep,workload,target," + LoadClient.Result.csvHeader()
                + ",origin_requests\n");
        // Fills (F: unique keys) go last, check, settle and reps alike: the objects they store would push the hit
        // workloads' objects out of a cache sized for those (seen: Varnish, malloc 1g, cut C64 responses short
        // when it re-fetched the 64 MiB object after F and could not nuke enough 1 MiB objects for it).
        List<List<Workload>> phases = new ArrayList<>();
        phases.add(workloads.stream().filter(w -> !w.unique).toList());
        phases.add(workloads.stream().filter(Workload::unique).toList());
        for (List<Workload> phase : phases) {
            if (!phase.isEmpty()) {
                failed |= measure(phase, targets, threads, reps, verify, duration, warmup, settle, origin, runs, csv);
            }
        }
        write(out.resolve("runs.csv"), csv.toString());
        report(out, runs, workloads, targets, verify, durationText, warmupText, settleText, reps);
        return failed ? 1 : 0;
    }

    /** Checks, settles and measures one phase's workloads on every target; true if anything failed. */
    private static boolean measure(List<Workload> phase, List<Target> targets, int threads, int reps, boolean verify,
            Duration duration, Duration warmup, Duration settle, String origin, List<Run> runs, StringBuilder csv) {
        boolean failed = false;
        // correctness first: a target that serves wrong bytes gets no performance row worth reading
        for (Target t : targets) {
            for (Workload w : phase) {
                LoadClient.Result r = client(t, w, threads).requests(Math.max(4, w.connections * 2L))
                        .label(t.name + "/" + w.name + "/check").build().run();
                System.out.println(r.humanLine());
                r.failureSamples().forEach(s -> System.out.println("  failure: " + s));
                failed |= r.failed();
            }
        }
        if (!settle.isZero()) {
            for (Target t : targets) {
                for (Workload w : phase) {
                    LoadClient.Result r = client(t, w, threads).duration(settle)
                            .label(t.name + "/" + w.name + "/settle").build().run();
                    System.out.println(r.humanLine());
                }
            }
        }
        for (int rep = 1; rep <= reps; rep++) {
            for (Workload w : phase) {
                for (int k = 0; k < targets.size(); k++) {
                    Target t = targets.get((k + rep - 1) % targets.size()); // rotate who goes first
                    long o0 = originRequests(origin);
                    LoadClient.Result r = client(t, w, threads).verify(verify).duration(duration).warmup(warmup)
                            .label(t.name + "/" + w.name + "/" + rep).build().run();
                    long o1 = originRequests(origin);
                    Run run = new Run(rep, w, t, r, o0 < 0 || o1 < 0 ? -1 : o1 - o0);
                    System.out.println(r.humanLine() + (run.originRequests < 0 ? ""
                            : String.format(Locale.ROOT, " origin/req=%.3f", run.originPerRequest())));
                    r.failureSamples().forEach(s -> System.out.println("  failure: " + s));
                    failed |= r.failed();
                    runs.add(run);
                    csv.append(rep).append(',').append(w.name).append(',').append(t.name).append(',')
                            .append(r.csv()).append(',').append(run.originRequests).append('\n');
                }
            }
        }
        return failed;
    }

    private static LoadClient.Builder client(Target t, Workload w, int threads) {
        LoadClient.Builder b = LoadClient.builder().target(t.host, t.port).connections(w.connections)
                .threads(threads).sizes(w.sizes).pathPrefix(w.prefix).query(w.query).unique(w.unique)
                .timeout(Duration.ofSeconds(20));
        if (t.pid > 0) {
            b.pid(t.pid);
            ProcessHandle.of(t.pid).ifPresent(p -> p.descendants().forEach(d -> b.pid(d.pid())));
        }
        return b;
    }

    /**
     * Requests the origin at {@code host:port} has completed so far ({@code stats=1}, a request it does not count),
     * or -1 when {@code origin} is null or does not answer.
     */
    static long originRequests(String origin) {
        if (origin == null) {
            return -1;
        }
        int colon = origin.lastIndexOf(':');
        try (java.net.Socket s = new java.net.Socket(origin.substring(0, colon),
                Integer.parseInt(origin.substring(colon + 1)))) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /_bench/origin-stats?stats=1 HTTP/1.1\r\nHost: " + origin
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            for (String line : text.split("\r?\n")) {
                if (line.startsWith("requests ")) {
                    return Long.parseLong(line.substring(9).strip());
                }
            }
            return -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** {@code name=host:port[@pid]}. */
    static Target target(String s) {
        int eq = s.indexOf('=');
        int at = s.indexOf('@');
        String addr = s.substring(eq + 1, at < 0 ? s.length() : at);
        int colon = addr.lastIndexOf(':');
        if (eq <= 0 || colon <= 0) {
            throw new IllegalArgumentException("--target must be name=host:port[@pid]: " + s);
        }
        return new Target(s.substring(0, eq), addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1)),
                at < 0 ? 0 : Long.parseLong(s.substring(at + 1)));
    }

    static double median(List<Double> xs) {
        List<Double> v = xs.stream().filter(x -> !Double.isNaN(x)).sorted().toList();
        if (v.isEmpty()) {
            return Double.NaN;
        }
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    /** Medians of one (workload, target) cell. */
    record Cell(double gib, double reqs, double p50, double p99, double cpuGib, double cpuReq, double cpuSystemShare,
            double machineGib, double machineReq, long failures, double originPerReq) {}

    private static Cell cell(List<Run> runs, Workload w, Target t) {
        List<LoadClient.Result> rs = runs.stream().filter(r -> r.w == w && r.t == t).map(Run::r).toList();
        ToDoubleFunction<ToDoubleFunction<LoadClient.Result>> med =
                f -> median(rs.stream().map(r -> f.applyAsDouble(r)).toList());
        return new Cell(med.applyAsDouble(LoadClient.Result::gibPerSecond),
                med.applyAsDouble(LoadClient.Result::requestsPerSecond),
                med.applyAsDouble(LoadClient.Result::latencyP50Micros),
                med.applyAsDouble(LoadClient.Result::latencyP99Micros),
                med.applyAsDouble(LoadClient.Result::cpuSecondsPerGiB),
                med.applyAsDouble(LoadClient.Result::cpuMicrosPerRequest),
                med.applyAsDouble(LoadClient.Result::cpuSystemShare),
                med.applyAsDouble(LoadClient.Result::machineCpuSecondsPerGiB),
                med.applyAsDouble(LoadClient.Result::machineCpuMicrosPerRequest),
                rs.stream().filter(LoadClient.Result::failed).count(),
                median(runs.stream().filter(r -> r.w == w && r.t == t).map(Run::originPerRequest).toList()));
    }

    private static void report(Path out, List<Run> runs, List<Workload> workloads, List<Target> targets,
            boolean verify, String duration, String warmup, String settle, int reps) {
        StringBuilder md = new StringBuilder();
        Path machine = out.resolve("machine.md");
        if (Files.exists(machine)) {
            try {
                md.append(Files.readString(machine)).append('\n');
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        md.append("## Results\n\n");
        md.append(String.format(Locale.ROOT, "Medians of %d repetitions of %s (after %s warmup) per cell, targets "
                + "interleaved%s. Load client: %s. CPU = utime+stime of each target's process tree over the window (kernel: "
                + "the stime share of it, which on loopback includes the TCP receive work of the proxy's peers that "
                + "runs in its context); machine "
                + "CPU = the whole machine's busy time over the window (proxy, origin, load client, softirq): on "
                + "loopback a receiver's TCP work runs in its sender's context, so a proxy's read pattern moves work "
                + "between itself, its origin and its client, and only the machine's total cannot shift.%n%n",
                reps, duration, warmup, settle.equals("0s") ? ""
                        : ", after every target ran every workload for " + settle + " unmeasured (steady state: JIT, heap)",
                verify ? "verifies every byte (copies bodies)"
                        : "does not verify; drops bodies in the kernel with recv(MSG_TRUNC) where possible (each "
                        + "target's correctness was checked with full verification before its runs)"));
        md.append("| workload | target | GiB/s | req/s | p50 ms | p99 ms | CPU s/GiB | CPU us/req | kernel "
                + "| machine CPU s/GiB | machine CPU us/req | failed runs | origin req/req |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        StringBuilder sum = new StringBuilder("workload,target,gib_per_s,req_per_s,p50_us,p99_us,cpu_s_per_gib,"
                + "cpu_us_per_req,machine_cpu_s_per_gib,machine_cpu_us_per_req,failed_runs,cpu_sys_share,"
                + "origin_per_req\n");
        Map<String, Map<String, Cell>> cells = new LinkedHashMap<>();
        for (Workload w : workloads) {
            for (Target t : targets) {
                Cell c = cell(runs, w, t);
                cells.computeIfAbsent(w.name, k -> new LinkedHashMap<>()).put(t.name, c);
                md.append(String.format(Locale.ROOT, "| %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |%n",
                        w.name, w.description, t.name, f(c.gib, 3), f(c.reqs, 0), f(c.p50 / 1000, 2),
                        f(c.p99 / 1000, 2), f(c.cpuGib, 3), f(c.cpuReq, 1),
                        Double.isNaN(c.cpuSystemShare) ? "-" : f(c.cpuSystemShare * 100, 0) + "%", f(c.machineGib, 3),
                        f(c.machineReq, 1), c.failures, served(c.originPerReq)));
                sum.append(String.join(",", w.name, t.name, f(c.gib, 4), f(c.reqs, 1), f(c.p50, 0), f(c.p99, 0),
                        f(c.cpuGib, 4), f(c.cpuReq, 2), f(c.machineGib, 4), f(c.machineReq, 2),
                        Long.toString(c.failures), f(c.cpuSystemShare, 3), f(c.originPerReq, 4))).append('\n');
            }
        }
        // every target named sluice* is a Sluice variant (e.g. sluice = splice, sluice-copy); peers are the rest
        List<Target> ours = targets.stream().filter(t -> t.name.startsWith("sluice")).toList();
        boolean anyPeer = targets.stream().anyMatch(t -> !t.name.startsWith("sluice"));
        if (!ours.isEmpty() && anyPeer) {
            md.append("\n### Sluice relative to the best peer (same run)\n\n");
            md.append("| workload | sluice variant | throughput ratio (higher is better) | best peer | CPU cost ratio (lower is better)"
                    + " | cheapest peer | machine CPU ratio to that peer | p99 ratio (lower is better) |\n"
                    + "|---|---|---:|---|---:|---|---:|---:|\n");
            for (Workload w : workloads) {
                Map<String, Cell> m = cells.get(w.name);
                ToDoubleFunction<Cell> thr = w.perRequest ? Cell::reqs : Cell::gib;
                ToDoubleFunction<Cell> cost = w.perRequest ? Cell::cpuReq : Cell::cpuGib;
                ToDoubleFunction<Cell> machineCost = w.perRequest ? Cell::machineReq : Cell::machineGib;
                var peers = m.entrySet().stream().filter(e -> !e.getKey().startsWith("sluice")).toList();
                var bestThr = peers.stream().filter(e -> !Double.isNaN(thr.applyAsDouble(e.getValue())))
                        .max(Comparator.comparingDouble(e -> thr.applyAsDouble(e.getValue()))).orElse(null);
                var bestCost = peers.stream().filter(e -> !Double.isNaN(cost.applyAsDouble(e.getValue())))
                        .min(Comparator.comparingDouble(e -> cost.applyAsDouble(e.getValue()))).orElse(null);
                var bestP99 = peers.stream().filter(e -> !Double.isNaN(e.getValue().p99))
                        .min(Comparator.comparingDouble(e -> e.getValue().p99)).orElse(null);
                for (Target us : ours) {
                    Cell s = m.get(us.name);
                    md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", w.name, us.name,
                            bestThr == null ? "-" : f(thr.applyAsDouble(s) / thr.applyAsDouble(bestThr.getValue()), 2),
                            bestThr == null ? "-" : bestThr.getKey(),
                            bestCost == null ? "-" : f(cost.applyAsDouble(s) / cost.applyAsDouble(bestCost.getValue()), 2),
                            bestCost == null ? "-" : bestCost.getKey(),
                            bestCost == null ? "-"
                                    : f(machineCost.applyAsDouble(s) / machineCost.applyAsDouble(bestCost.getValue()), 2),
                            bestP99 == null ? "-" : f(s.p99 / bestP99.getValue().p99, 2)));
                }
            }
        }
        md.append("\nThroughput is GiB/s for A/B/C/F workloads and req/s for D; CPU cost is s/GiB for A/B/C/F and "
                + "us/request for D. origin req/req: requests the origin served per client request over each run "
                + "(warmup included; median): ~0 for cache hits, ~1 for pass-through and misses (F), '-' without "
                + "--origin. Raw runs: runs.csv; medians: summary.csv; chart: chart.png.\n");
        write(out.resolve("summary.md"), md.toString());
        write(out.resolve("summary.csv"), sum.toString());
        chart(out, cells, workloads, targets);
    }

    /** The origin's requests per client request, and what that says the target did: hits, misses or a mix. */
    static String served(double originPerReq) {
        if (Double.isNaN(originPerReq)) {
            return "-";
        }
        String what = originPerReq < 0.02 ? "hits" : originPerReq > 0.98 ? "origin each" : "mixed";
        return f(originPerReq, 3) + " (" + what + ")";
    }

    /** Data files and a gnuplot script: clustered bars, one cluster per workload, one bar per target. */
    private static void chart(Path out, Map<String, Map<String, Cell>> cells, List<Workload> workloads,
            List<Target> targets) {
        String[][] panels = {
            {"gib", "Throughput (GiB/s)", "bulk"}, {"cpugib", "CPU s/GiB (lower is better)", "bulk"},
            {"reqs", "Requests/s", "small"}, {"cpureq", "CPU us/request (lower is better)", "small"}};
        StringBuilder gp = new StringBuilder();
        gp.append("set terminal pngcairo size 1400,900 noenhanced font ',10'\nset output 'chart.png'\n")
                .append("set style data histograms\nset style histogram clustered gap 1\n")
                .append("set style fill solid 0.8 border -1\nset boxwidth 0.9\nset key top left\n")
                .append("set grid ytics\nset yrange [0:*]\nset datafile missing 'NaN'\n")
                .append("set multiplot layout 2,2 title 'Sluice and peers (medians)'\n");
        for (String[] p : panels) {
            List<Workload> ws = workloads.stream().filter(w -> w.perRequest == p[2].equals("small")).toList();
            StringBuilder dat = new StringBuilder("workload");
            targets.forEach(t -> dat.append(' ').append(t.name));
            dat.append('\n');
            for (Workload w : ws) {
                dat.append(w.name);
                for (Target t : targets) {
                    Cell c = cells.get(w.name).get(t.name);
                    double v = switch (p[0]) {
                        case "gib" -> c.gib;
                        case "cpugib" -> c.cpuGib;
                        case "reqs" -> c.reqs;
                        default -> c.cpuReq;
                    };
                    dat.append(' ').append(Double.isNaN(v) ? "NaN" : f(v, 4));
                }
                dat.append('\n');
            }
            write(out.resolve("chart-" + p[0] + ".dat"), dat.toString());
            gp.append("set title '").append(p[1]).append("'\n");
            if (ws.isEmpty()) {
                gp.append("unset key\nplot 0 notitle\nset key top left\n");
                continue;
            }
            gp.append("plot for [i=2:").append(targets.size() + 1).append("] 'chart-").append(p[0])
                    .append(".dat' using i:xtic(1) title columnheader(i)\n");
        }
        gp.append("unset multiplot\n");
        write(out.resolve("chart.gp"), gp.toString());
    }

    private static String f(double v, int digits) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "NaN";
        }
        return String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    private static void write(Path p, String s) {
        try {
            Files.writeString(p, s, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
