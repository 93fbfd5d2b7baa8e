package dev.sluice.admin.cli;

import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code sluice admin warm (FILE|-|s3://BUCKET/PREFIX --route R) [--wait] ...}: POST /cache/warm. A list (a file, or
 * standard input with {@code -}) is streamed as it is read, one URL or path a line (or a JSON array); the server
 * reads it as fast as it warms, so the upload of a long list lasts as long as the job's listing. With {@code --wait}
 * the job is followed to its end ({@link WarmProgress}). Exit status: 0 the job was created (without --wait), or
 * finished with every key cached or fresh already (with --wait); 1 refused, unreachable, or with --wait a job that
 * failed, was cancelled, or had any key fail.
 */
@Command(name = "warm", mixinStandardHelpOptions = true,
        description = "Loads URLs into the cache before clients ask for them: a list of URLs or paths (one a line, or"
                + " a JSON array) from FILE or standard input (-), or the keys under an S3 prefix (s3://BUCKET/PREFIX"
                + " --route R). Paths without a host take --host, else the route's host, else the listener's address.")
final class WarmCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Parameters(paramLabel = "FILE|-|s3://BUCKET/PREFIX", description = "the list, - for standard input, or an S3 prefix")
    String source;

    @Option(names = "--route", paramLabel = "R", description = "for s3://: the route whose upstream group serves the bucket")
    String route;

    @Option(names = "--wait", description = "follow the job to its end (a progress bar on a terminal, lines otherwise)")
    boolean await;

    @Option(names = "--concurrency", paramLabel = "N", description = "warm fetches at once for this job (default 4)")
    Integer concurrency;

    @Option(names = "--rate", paramLabel = "BYTES", description = "bytes per second stored at most, e.g. 50m")
    String rate;

    @Option(names = "--max-bytes", paramLabel = "BYTES", description = "stop once this much is stored, e.g. 2g")
    String maxBytes;

    @Option(names = "--revalidate", description = "validate keys already cached with the origin")
    boolean revalidate;

    @Option(names = "--priority", paramLabel = "P", description = "background (default: yields to clients) or normal")
    String priority;

    @Option(names = "--host", paramLabel = "HOST", description = "the Host for paths given without one")
    String host;

    @Override
    public Integer call() {
        int[] status = {0};
        int ran = admin.run(out -> {
            String name = "cli-" + Long.toHexString(System.nanoTime() ^ ProcessHandle.current().pid());
            Map<String, Object> options = new LinkedHashMap<>();
            put(options, "concurrency", concurrency);
            put(options, "rate", rate);
            put(options, "max-bytes", maxBytes);
            put(options, "revalidate", revalidate ? Boolean.TRUE : null);
            put(options, "priority", priority);
            put(options, "host", host);
            options.put("name", name);
            CompletableFuture<Map<String, Object>> created;
            if (source.startsWith("s3://")) {
                if (route == null) {
                    throw new AdminCommand.Failure("s3:// needs --route (the route whose upstream serves the bucket)");
                }
                String rest = source.substring(5);
                int slash = rest.indexOf('/');
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("route", route);
                body.put("bucket", slash < 0 ? rest : rest.substring(0, slash));
                body.put("prefix", slash < 0 ? "" : rest.substring(slash + 1));
                body.putAll(options);
                created = CompletableFuture.completedFuture(admin.call("POST", "/cache/warm", body));
            } else {
                if (route != null) {
                    throw new AdminCommand.Failure("--route is for s3:// sources; a list's keys find their routes");
                }
                HttpRequest.BodyPublisher body;
                if (source.equals("-")) {
                    body = HttpRequest.BodyPublishers.ofInputStream(() -> System.in);
                } else {
                    Path file = Path.of(source);
                    if (!Files.isReadable(file)) {
                        throw new AdminCommand.Failure("cannot read " + source);
                    }
                    try {
                        body = HttpRequest.BodyPublishers.ofFile(file);
                    } catch (java.io.FileNotFoundException e) {
                        throw new AdminCommand.Failure("cannot read " + source + ": " + e.getMessage());
                    }
                }
                StringBuilder q = new StringBuilder();
                for (var e : options.entrySet()) {
                    q.append(q.isEmpty() ? '?' : '&').append(e.getKey()).append('=')
                            .append(AdminCommand.enc(String.valueOf(e.getValue())));
                }
                // no timeout: the server reads a long list only as fast as it warms it
                HttpRequest.BodyPublisher b = body;
                created = CompletableFuture.supplyAsync(() -> {
                    try {
                        return admin.call("POST", "/cache/warm" + q, b, "text/plain", Duration.ofDays(365));
                    } catch (AdminCommand.Failure e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
            }
            if (!await) {
                Map<String, Object> job = WarmProgress.join(created);
                if (!admin.json) {
                    out.println("warm job " + job.get("id") + " started: " + WarmProgress.summary(job));
                }
                return;
            }
            status[0] = new WarmProgress(admin, out).follow(name, created);
        });
        return ran != 0 ? ran : status[0];
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }
}
