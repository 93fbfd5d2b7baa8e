package dev.sluice.admin.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Follows a warm job to its end for {@code warm --wait}. While the list uploads (the server replies only once it has
 * read the whole list) the job is found among GET /jobs by the name the CLI gave it. On a terminal
 * ({@code System.console().isTerminal()}) one line is redrawn with {@code \r}: a bar of keys done out of keys listed,
 * bytes stored, rate and ETA (known once the whole list was read); otherwise a plain progress line every
 * {@link #LINE_EVERY_MILLIS}. Then the summary and the last errors. Returns the exit status: 0 when the job is done
 * with no key failed, else 1.
 */
final class WarmProgress {
    static final long POLL_MILLIS = 250;
    static final long LINE_EVERY_MILLIS = 2000;
    private static final int BAR = 30;

    private final AdminCommand admin;
    private final PrintWriter out;
    private final boolean terminal;

    WarmProgress(AdminCommand admin, PrintWriter out) {
        this.admin = admin;
        this.out = out;
        java.io.Console c = System.console();
        this.terminal = c != null && c.isTerminal();
    }

    int follow(String name, CompletableFuture<Map<String, Object>> created) throws AdminCommand.Failure {
        // with --json, the polls print nothing; the job's last state is printed once, at the end
        boolean json = admin.json;
        admin.json = false;
        try {
            return follow(name, created, json);
        } finally {
            admin.json = json;
        }
    }

    private int follow(String name, CompletableFuture<Map<String, Object>> created, boolean json)
            throws AdminCommand.Failure {
        String id = null;
        long lastLine = 0;
        Map<String, Object> job;
        while (true) {
            if (id == null) {
                if (created.isDone()) {
                    id = String.valueOf(join(created).get("id"));
                } else {
                    for (Map<String, Object> j : AdminCommand.list(admin.call("GET", "/jobs", null).get("jobs"))) {
                        if (j.get("options") instanceof Map<?, ?> o && name.equals(o.get("name"))) {
                            id = String.valueOf(j.get("id"));
                        }
                    }
                }
            }
            job = id == null ? null : admin.call("GET", "/jobs/" + AdminCommand.enc(id), null);
            boolean finished = job != null && job.get("finished") != null;
            if (finished && created.isDone()) {
                join(created); // an upload refused (a malformed list) is the error to report
                break;
            }
            long now = System.currentTimeMillis();
            if (job != null && !json) {
                if (terminal) {
                    out.print("\r" + bar(job) + "   ");
                    out.flush();
                } else if (now - lastLine >= LINE_EVERY_MILLIS) {
                    out.println("warm job " + id + ": " + summary(job));
                    out.flush();
                    lastLine = now;
                }
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AdminCommand.Failure("interrupted");
            }
        }
        if (json) {
            out.println(toJson(job));
        } else {
            if (terminal) {
                out.println("\r" + bar(job) + "   ");
            }
            printJob(out, job);
        }
        long failed = ((Number) keys(job).get("failed")).longValue();
        return "done".equals(job.get("state")) && failed == 0 ? 0 : 1;
    }

    private static String toJson(Map<String, Object> job) throws AdminCommand.Failure {
        try {
            return com.fasterxml.jackson.jr.ob.JSON.std.with(com.fasterxml.jackson.jr.ob.JSON.Feature.WRITE_NULL_PROPERTIES)
                    .asString(job);
        } catch (java.io.IOException e) {
            throw new AdminCommand.Failure("cannot print the job: " + e);
        }
    }

    /** The reply of the creating request, or its failure. */
    static Map<String, Object> join(CompletableFuture<Map<String, Object>> created) throws AdminCommand.Failure {
        try {
            return created.get();
        } catch (ExecutionException | CompletionException e) {
            if (e.getCause() instanceof AdminCommand.Failure f) {
                throw f;
            }
            throw new AdminCommand.Failure(String.valueOf(e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminCommand.Failure("interrupted");
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> keys(Map<String, Object> job) {
        return (Map<String, Object>) job.get("keys");
    }

    /** "[#######.......] 120/400 keys  12.0 MiB  3.1 MiB/s  ETA 1m30s" */
    static String bar(Map<String, Object> job) {
        Map<String, Object> k = keys(job);
        long done = ((Number) k.get("done")).longValue();
        long listed = ((Number) k.get("listed")).longValue();
        boolean whole = Boolean.TRUE.equals(job.get("listing-complete"));
        int filled = listed == 0 ? 0 : (int) (BAR * done / listed);
        return "[" + "#".repeat(filled) + ".".repeat(BAR - filled) + "] " + done + "/" + listed + (whole ? "" : "+")
                + " keys  " + AdminCommand.bytes(job.get("bytes")) + "  " + AdminCommand.bytes(job.get("rate"))
                + "/s  " + (job.get("finished") != null ? job.get("state") : "ETA " + eta(job.get("eta-seconds")))
                + (job.get("paused-for") instanceof String why ? "  (paused: " + why + ")" : "");
    }

    /** "120 of 400 keys done (100 cached, 15 skipped, 5 failed), 12.0 MiB, 3.1 MiB/s, ETA 1m30s" */
    static String summary(Map<String, Object> job) {
        Map<String, Object> k = keys(job);
        boolean whole = Boolean.TRUE.equals(job.get("listing-complete"));
        return k.get("done") + " of " + k.get("listed") + (whole ? "" : "+") + " keys done (" + k.get("cached")
                + " cached, " + k.get("skipped") + " fresh already, " + k.get("failed") + " failed), "
                + AdminCommand.bytes(job.get("bytes")) + " stored, " + AdminCommand.bytes(job.get("rate")) + "/s"
                + (job.get("finished") == null ? ", ETA " + eta(job.get("eta-seconds")) : "");
    }

    static void printJob(PrintWriter out, Map<String, Object> job) {
        out.println("warm job " + job.get("id") + " " + job.get("state") + " after " + job.get("elapsed-seconds")
                + " s: " + summary(job));
        if (job.get("stopped") != null) {
            out.println("  stopped: " + job.get("stopped"));
        }
        if (job.get("error") != null) {
            out.println("  error: " + job.get("error"));
        }
        List<Map<String, Object>> errors = AdminCommand.list(job.get("errors"));
        if (!errors.isEmpty()) {
            out.println("  last failures:");
            for (Map<String, Object> e : errors) {
                out.println("    " + e.get("key") + ": " + e.get("reason"));
            }
        }
    }

    private static String eta(Object seconds) {
        if (!(seconds instanceof Number n)) {
            return "?";
        }
        long s = n.longValue();
        return s >= 3600 ? s / 3600 + "h" + (s % 3600) / 60 + "m" : s >= 60 ? s / 60 + "m" + s % 60 + "s" : s + "s";
    }
}
