package dev.sluice.admin;

import dev.sluice.conf.SluiceConfig.WarmConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The warm jobs of this process: created by {@code POST /cache/warm}, listed by {@code GET /jobs}, cancelled by
 * {@code DELETE /jobs/{id}}. A job runs on its own virtual threads, so it outlives the request that created it (and
 * that client's connection). At most {@code cache.warm.max-jobs} run at once (one more is refused with 429); a
 * finished job stays listed with its summary for {@code cache.warm.keep-finished}, and of those at most
 * {@link #MAX_FINISHED} (the oldest go first). Thread-safe: the admin's loop and the jobs' threads call it.
 */
final class WarmJobs {
    private static final System.Logger LOG = System.getLogger(WarmJobs.class.getName());
    static final int MAX_FINISHED = 1000;

    private final CacheAdmin admin;
    private final WarmConfig config;
    /** When background fetches may start, all jobs together: clients, the CPU, cache.warm.max-in-flight. */
    final BackgroundGate gate;
    final AdminMetrics metrics;
    private final Map<String, WarmJob> jobs = new LinkedHashMap<>();
    private long nextId = 1;

    WarmJobs(CacheAdmin admin, AdminMetrics metrics) {
        this.admin = admin;
        this.config = admin.warmConfig();
        this.gate = new BackgroundGate(admin::clientsWaitingForUpstream, CpuLoad.machine(), config.maxCpuPercent(),
                config.maxInFlight());
        this.metrics = metrics;
        metrics.jobs(() -> count(false), () -> count(true), gate::inFlight);
    }

    /** Jobs running now ({@code paused}: of those, the ones waiting for clients). */
    private synchronized long count(boolean paused) {
        return jobs.values().stream().filter(j -> !j.finished() && (!paused || j.paused())).count();
    }

    CacheAdmin admin() {
        return admin;
    }

    /** A new job, not yet started; 429 when max-jobs run already. */
    synchronized WarmJob create(WarmOptions options, String source) throws ApiError {
        expire();
        long running = count(false);
        if (running >= config.maxJobs()) {
            throw new ApiError(429, running + " warm jobs are running, the most cache.warm.max-jobs allows: wait for"
                    + " one to finish, or cancel one (DELETE /jobs/ID)");
        }
        WarmJob job = new WarmJob(Long.toString(nextId++), options, source, admin, this);
        jobs.put(job.id, job);
        LOG.log(System.Logger.Level.INFO, "warm job {0} created: {1}, {2}", job.id, source, options);
        return job;
    }

    /** Forgets a job whose request was refused before it listed anything (a 400 reply: there is nothing to show). */
    synchronized void drop(WarmJob job) {
        job.cancel();
        jobs.remove(job.id);
    }

    synchronized List<Map<String, Object>> list() {
        expire();
        List<Map<String, Object>> out = new ArrayList<>();
        for (WarmJob j : jobs.values()) {
            out.add(j.json());
        }
        return out;
    }

    synchronized WarmJob get(String id) throws ApiError {
        expire();
        WarmJob j = jobs.get(id);
        if (j == null) {
            throw ApiError.notFound("no warm job " + ApiError.quote(id) + " (finished jobs are kept for "
                    + config.keepFinished() + ")");
        }
        return j;
    }

    /** Called by a job as it finishes. */
    void ended(WarmJob job) {
        metrics.ended(job.state());
        Map<String, Object> s = job.json();
        LOG.log(System.Logger.Level.INFO, "warm job {0} {1}: keys {2}, {3} bytes stored{4}", job.id, s.get("state"),
                s.get("keys"), s.get("bytes"), s.get("error") == null ? "" : ": " + s.get("error"));
        synchronized (this) {
            expire();
        }
    }

    /** Cancels every job (at shutdown). */
    synchronized void cancelAll() {
        for (WarmJob j : jobs.values()) {
            j.cancel();
        }
    }

    private void expire() {
        long now = System.nanoTime();
        long keep = config.keepFinished().toNanos();
        int finished = 0;
        for (WarmJob j : jobs.values()) {
            finished += j.finished() ? 1 : 0;
        }
        var it = jobs.values().iterator();
        while (it.hasNext()) {
            WarmJob j = it.next();
            if (j.finished() && (now - j.finishedNanos() >= keep || finished > MAX_FINISHED)) {
                it.remove();
                finished--;
            }
        }
    }
}
