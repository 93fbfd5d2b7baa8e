package dev.sluice.loadtest;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Command line for {@link LoadClient}: prints a human line (plus failure samples) on stdout, then one JSON and/or CSV
 * line, and exits 0 if the run passed, 1 if it failed, 2 on a usage error. See {@link #USAGE}.
 */
public final class LoadClientMain {
    static final String USAGE = """
            usage: LoadClientMain --target HOST:PORT (or --url http://HOST:PORT) [options]
              -c, --connections N     keep-alive connections (default 1)
              -d, --duration T        measured duration, e.g. 10s, 500ms, 2m
              -n, --requests N        total requests (one of -d / -n is required)
              --warmup T              unmeasured (but verified) lead-in
              --threads N             client event loop threads (default 1)
              --sizes MIX             weighted sizes, e.g. 1m:8,64m:1 (default 1k) -> /lt/SIZE?size=SIZE
              --prefix P              path prefix for --sizes (default /lt)
              --query Q               extra query for --sizes targets, e.g. 'cc=max-age%%3D3600'
              --path TARGET           request target, repeatable (instead of --sizes), e.g. /a?size=1m
              --urls-file F           request targets, one per line (# comments)
              --unique                distinct path per request (cache misses)
              --range SPEC            a-b | a- | -n | random: single Range requests (206 verified)
              --put                   upload (PUT) each target's payload; the origin verifies it
              --no-verify             count body bytes without checking them (peak runs)
              --copy                  with --no-verify: read bodies instead of recv(MSG_TRUNC) dropping them
              --header 'N: V'         extra request header, repeatable
              --host-header H         Host header (default HOST:PORT)
              --timeout T             no-progress timeout per request (default 10s)
              --pid PID               report this process's CPU over the window, repeatable
              --label L               label in the output
              --format json|csv|both  machine-readable line after the human line (default json)
              --csv-header            print the CSV header line first
              --seed N                random seed for size mix and ranges (default 42)
            """;

    private LoadClientMain() {}

    public static void main(String[] args) {
        int rc;
        try {
            rc = run(args, System.out);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("loadclient: " + e.getMessage());
            System.err.print(USAGE.replace("%%", "%"));
            rc = 2;
        }
        System.out.flush();
        System.exit(rc);
    }

    static int run(String[] args, java.io.PrintStream out) {
        LoadClient.Builder b = LoadClient.builder();
        List<String> paths = new ArrayList<>();
        String format = "json";
        boolean csvHeader = false;
        boolean copy = false;
        for (int i = 0; i < args.length; i++) {
            String opt = args[i];
            switch (opt) {
                case "-h", "--help" -> {
                    out.print(USAGE.replace("%%", "%"));
                    return 0;
                }
                case "--unique" -> {
                    b.unique(true);
                    continue;
                }
                case "--no-verify" -> {
                    b.verify(false);
                    continue;
                }
                case "--copy" -> {
                    copy = true;
                    continue;
                }
                case "--put" -> {
                    b.upload(true);
                    continue;
                }
                case "--csv-header" -> {
                    csvHeader = true;
                    continue;
                }
                default -> {
                    // options with a value below
                }
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(opt + " needs a value");
            }
            String v = args[++i];
            switch (opt) {
                case "--target" -> {
                    int colon = v.lastIndexOf(':');
                    if (colon <= 0) {
                        throw new IllegalArgumentException("--target must be HOST:PORT: " + v);
                    }
                    b.target(v.substring(0, colon), Integer.parseInt(v.substring(colon + 1)));
                }
                case "--url" -> {
                    URI u = URI.create(v);
                    if (!"http".equals(u.getScheme()) || u.getHost() == null) {
                        throw new IllegalArgumentException("--url must be http://HOST:PORT[/path]: " + v);
                    }
                    b.target(u.getHost(), u.getPort() < 0 ? 80 : u.getPort());
                    if (u.getRawPath() != null && u.getRawPath().length() > 1) {
                        paths.add(u.getRawPath() + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()));
                    }
                }
                case "-c", "--connections" -> b.connections(Integer.parseInt(v));
                case "-d", "--duration" -> b.duration(duration(v));
                case "-n", "--requests" -> b.requests(Long.parseLong(v));
                case "--warmup" -> b.warmup(duration(v));
                case "--threads" -> b.threads(Integer.parseInt(v));
                case "--sizes" -> b.sizes(v);
                case "--prefix" -> b.pathPrefix(v);
                case "--query" -> b.query(v);
                case "--path" -> paths.add(v);
                case "--urls-file" -> {
                    try {
                        for (String line : Files.readAllLines(Path.of(v))) {
                            String t = line.strip();
                            if (!t.isEmpty() && !t.startsWith("#")) {
                                paths.add(t);
                            }
                        }
                    } catch (IOException e) {
                        throw new IllegalArgumentException("cannot read " + v + ": " + e);
                    }
                }
                case "--range" -> b.range(v);
                case "--header" -> {
                    int colon = v.indexOf(':');
                    if (colon <= 0) {
                        throw new IllegalArgumentException("--header must be 'Name: value': " + v);
                    }
                    b.header(v.substring(0, colon).strip(), v.substring(colon + 1).strip());
                }
                case "--host-header" -> b.hostHeader(v);
                case "--timeout" -> b.timeout(duration(v));
                case "--pid" -> b.pid(Long.parseLong(v));
                case "--label" -> b.label(v);
                case "--format" -> {
                    format = v.toLowerCase(Locale.ROOT);
                    if (!List.of("json", "csv", "both").contains(format)) {
                        throw new IllegalArgumentException("--format must be json, csv or both");
                    }
                }
                case "--seed" -> b.seed(Long.parseLong(v));
                default -> throw new IllegalArgumentException("unknown option " + opt);
            }
        }
        if (!paths.isEmpty()) {
            b.urls(paths);
        }
        b.discardInKernel(!copy);
        LoadClient.Result r = b.build().run();
        out.println(r.humanLine());
        for (String s : r.failureSamples()) {
            out.println("  failure: " + s);
        }
        if (csvHeader && !format.equals("json")) {
            out.println(LoadClient.Result.csvHeader());
        }
        if (!format.equals("csv")) {
            out.println(r.json());
        }
        if (!format.equals("json")) {
            out.println(r.csv());
        }
        return r.failed() ? 1 : 0;
    }

    /** 10s, 500ms, 2m, 1h, or plain seconds. */
    static Duration duration(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            if (t.endsWith("s")) {
                return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
            }
            if (t.endsWith("m")) {
                return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * 60);
            }
            if (t.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            }
            return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a duration: " + s + " (use e.g. 10s, 500ms, 2m)");
        }
    }
}
