package dev.sluice.admin;

import java.io.IOException;
import java.net.Socket;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One warm job: keys come from a lister (a streamed list, or an S3 listing) through a small bounded queue to
 * {@code concurrency} worker virtual threads, each making one {@link WarmFetch} at a time. The queue is what bounds
 * memory: a lister blocks in {@link #offer} while it is full, and the streamed body behind it stops being read
 * ({@link WarmUpload}), so a list of a million keys is never held whole.
 *
 * <p>The job ends when the listing is complete and every key listed was tried (done; failed keys are listed in
 * {@code errors}), when the listing fails and the keys listed before were tried (failed, with the reason), when
 * {@code max-bytes} were stored (done, with {@code stopped} saying so), or when it is cancelled (the fetches in flight
 * are closed: a fill this job led then follows the proxy's usual rule for a leader that left).
 */
final class WarmJob {
    enum State { RUNNING, DONE, FAILED, CANCELLED }

    /** Keys listed but not yet taken by a worker, at most. */
    static final int QUEUE = 256;
    /** Failures kept with key and reason (the last ones). */
    static final int ERRORS = 20;

    final String id;
    final WarmOptions options;
    final String source;
    private final CacheAdmin admin;
    private final WarmJobs jobs;
    private final Instant created = Instant.now();
    private final long startNanos = System.nanoTime();
    private final BlockingQueue<Key> queue = new ArrayBlockingQueue<>(QUEUE);
    private final AtomicLong listed = new AtomicLong();
    private final AtomicLong cached = new AtomicLong();
    private final AtomicLong skipped = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong bytesSkipped = new AtomicLong();
    private final AtomicInteger workersLeft;
    private final ArrayDeque<Map<String, Object>> errors = new ArrayDeque<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final List<Thread> workers = new ArrayList<>();
    private final TokenBucket bucket;

    private volatile State state = State.RUNNING;
    private volatile boolean listingComplete;
    /** No more keys are taken (cancelled, max-bytes reached). */
    private volatile boolean stopping;
    private volatile String stopped;
    private volatile String failure;
    /** Why this job's background fetches wait now ({@link WarmJobs#backgroundWait}), or null. */
    private volatile String pausedFor;
    private volatile Instant finished;
    private volatile long finishedNanos;

    /** A key ready to fetch: as listed, and the request that warms it. */
    record Key(String key, CacheAdmin.WarmTarget target, byte[] request) {}

    WarmJob(String id, WarmOptions options, String source, CacheAdmin admin, WarmJobs jobs) {
        this.id = id;
        this.options = options;
        this.source = source;
        this.admin = admin;
        this.jobs = jobs;
        this.workersLeft = new AtomicInteger(options.concurrency());
        this.bucket = options.rate() > 0 ? new TokenBucket(options.rate()) : null;
    }

    void start() {
        for (int i = 0; i < options.concurrency(); i++) {
            workers.add(Thread.ofVirtual().name("sluice-warm-" + id + "-", i).start(this::work));
        }
    }

    // ---------------------------------------------------------------- the lister's side

    /**
     * A key from the listing: checked (a URL or a path, a route that caches it), counted, and queued, waiting while
     * the queue is full. A key refused is counted failed with the reason. False once the job takes no more keys.
     */
    boolean offer(String key) throws InterruptedException {
        if (stopping) {
            return false;
        }
        listed.incrementAndGet();
        Key k;
        try {
            k = key(key);
        } catch (ApiError | CacheAdmin.NoRoute e) {
            fail(key, e.getMessage());
            return true;
        }
        while (!stopping) {
            if (queue.offer(k, 100, TimeUnit.MILLISECONDS)) {
                return true;
            }
        }
        return false;
    }

    private Key key(String key) throws ApiError, CacheAdmin.NoRoute {
        String host;
        String target;
        if (key.startsWith("/")) {
            for (int i = 0; i < key.length(); i++) {
                char c = key.charAt(i);
                if (c <= 0x20 || c >= 0x7f || c == '#') {
                    throw ApiError.badRequest("bad path: whitespace, control, non-ASCII or # at " + i);
                }
            }
            host = options.host();
            target = key;
        } else if (key.regionMatches(true, 0, "http://", 0, 7) || key.regionMatches(true, 0, "https://", 0, 8)) {
            AdminUrl u = AdminUrl.parse(key);
            host = u.host();
            target = u.target();
        } else {
            throw ApiError.badRequest("neither a URL (http://host/path) nor a path (/path)");
        }
        CacheAdmin.WarmTarget t = admin.warmTarget(host, target);
        return new Key(key, t, WarmFetch.request(t.host(), target, admin.warmToken(), id, options.revalidate()));
    }

    /** The listing ended whole: the workers finish what is queued. */
    void listingComplete() {
        listingComplete = true;
    }

    /**
     * The listing failed (a malformed list, a client gone mid-list, an S3 error): no more keys come, the keys listed
     * so far are still warmed, and the job ends failed with the reason.
     */
    void listingFailed(String reason) {
        if (stopped != null || state == State.CANCELLED) {
            return; // stopped at max-bytes, or cancelled: the rest of the list no longer matters
        }
        failure = reason;
        listingComplete = true;
    }

    /** Whether the job still takes keys (a lister stops listing when it does not). */
    boolean accepting() {
        return !stopping;
    }

    long listed() {
        return listed.get();
    }

    /** Keys refused or failed so far: the first reason, for a reply to a list none of whose keys was valid. */
    synchronized String firstError() {
        return errors.isEmpty() ? null : errors.peekFirst().get("key") + ": " + errors.peekFirst().get("reason");
    }

    long failedCount() {
        return failed.get();
    }

    // ---------------------------------------------------------------- cancel

    /** Cancels: no more keys are taken, the fetches in flight are closed. */
    void cancel() {
        synchronized (this) {
            if (finished != null) {
                return;
            }
            state = State.CANCELLED; // under the lock end() decides the final state by
        }
        stopping = true;
        queue.clear();
        for (Socket s : open) {
            try {
                s.close(); // the proxy sees the client leave; its fill goes on or not by the leader-left rule
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        for (Thread t : workers) {
            t.interrupt();
        }
    }

    boolean finished() {
        return finished != null;
    }

    boolean paused() {
        return pausedFor != null;
    }

    State state() {
        return state;
    }

    long finishedNanos() {
        return finishedNanos;
    }

    // ---------------------------------------------------------------- workers

    private void work() {
        try {
            while (!stopping) {
                Key k = queue.poll(100, TimeUnit.MILLISECONDS);
                if (k == null) {
                    if (listingComplete && queue.isEmpty()) {
                        break;
                    }
                    continue;
                }
                if (options.maxBytes() > 0 && bytes.get() >= options.maxBytes()) {
                    stopped = "max-bytes reached (" + options.maxBytes() + " bytes stored)";
                    stopping = true;
                    queue.clear();
                    break;
                }
                long reserved = 0;
                if (bucket != null) {
                    // a fetch's size is known only after it: it reserves the average so far and settles after, so
                    // that concurrent workers do not all start on the same tokens
                    bucket.await();
                    long c = cached.get();
                    reserved = c == 0 ? 0 : bytes.get() / c;
                    bucket.take(reserved);
                }
                fetch(k, reserved);
            }
        } catch (InterruptedException e) {
            // cancelled
        } finally {
            if (workersLeft.decrementAndGet() == 0) {
                end();
            }
        }
    }

    private void fetch(Key k, long reserved) throws InterruptedException {
        boolean permit = false;
        try {
            if (options.background()) {
                // background: wait while clients wait for upstreams or use the CPU, and for a place under the cap
                String wait = "";
                while (!stopping && (wait = jobs.gate.tryStart()) != null) {
                    pausedFor = wait == BackgroundGate.IN_FLIGHT_CAP ? null : wait;
                    Thread.sleep(5);
                }
                pausedFor = null;
                if (wait != null) {
                    return; // stopping
                }
                permit = true;
            }
            WarmFetch.Result r = WarmFetch.fetch(k.target().listener(), k.request(), open::add);
            switch (r.outcome()) {
                case CACHED -> {
                    cached.incrementAndGet();
                    bytes.addAndGet(r.bytes());
                    jobs.metrics.keysCached.increment();
                    jobs.metrics.bytesStored.increment(r.bytes());
                    if (bucket != null) {
                        bucket.take(r.bytes() - reserved);
                        reserved = 0;
                    }
                }
                case SKIPPED -> {
                    skipped.incrementAndGet();
                    jobs.metrics.keysSkipped.increment();
                    bytesSkipped.addAndGet(r.bytes());
                }
                case FAILED -> fail(k.key(), r.reason());
            }
        } catch (IOException e) {
            if (state != State.CANCELLED) {
                fail(k.key(), "warm request to " + k.target().listener() + ": " + e.getMessage());
            }
        } finally {
            if (bucket != null && reserved != 0) {
                bucket.take(-reserved); // nothing stored: the reservation comes back
            }
            pausedFor = null;
            open.removeIf(Socket::isClosed);
            if (permit) {
                jobs.gate.done();
            }
        }
    }

    private synchronized void fail(String key, String reason) {
        failed.incrementAndGet();
        jobs.metrics.keysFailed.increment();
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("key", ApiError.quote(key));
        e.put("reason", reason == null ? "unknown" : reason.length() > 300 ? reason.substring(0, 300) + "..." : reason);
        if (errors.size() == ERRORS) {
            errors.removeFirst();
        }
        errors.addLast(e);
    }

    private void end() {
        synchronized (this) {
            if (state != State.CANCELLED) {
                state = failure != null ? State.FAILED : State.DONE;
            }
            finishedNanos = System.nanoTime();
            finished = Instant.now();
        }
        jobs.ended(this); // outside this job's lock: WarmJobs takes its own, then jobs' (lock order)
    }

    // ---------------------------------------------------------------- view

    synchronized Map<String, Object> json() {
        long now = finished != null ? finishedNanos : System.nanoTime();
        double elapsed = Math.max(1e-3, (now - startNanos) / 1e9);
        long c = cached.get();
        long s = skipped.get();
        long f = failed.get();
        long done = c + s + f;
        long l = listed.get();
        Map<String, Object> keys = new LinkedHashMap<>();
        keys.put("listed", l);
        keys.put("done", done);
        keys.put("cached", c);
        keys.put("skipped", s);
        keys.put("failed", f);
        keys.put("not-fetched", finished != null ? l - done : 0);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("state", state.name().toLowerCase(Locale.ROOT));
        m.put("source", source);
        m.put("created", created.toString());
        m.put("finished", finished == null ? null : finished.toString());
        m.put("elapsed-seconds", Math.round(elapsed * 10) / 10.0);
        m.put("listing-complete", listingComplete);
        m.put("keys", keys);
        m.put("bytes", bytes.get());
        m.put("bytes-skipped", bytesSkipped.get());
        m.put("rate", Math.round(bytes.get() / elapsed));
        m.put("keys-per-second", Math.round(done / elapsed * 10) / 10.0);
        // known only once the whole list is: a streamed list's length is not known before its end
        m.put("eta-seconds", finished == null && listingComplete && done > 0
                ? Math.round((l - done) / (done / elapsed)) : null);
        String why = pausedFor;
        m.put("paused", why != null);
        m.put("paused-for", why);
        m.put("stopped", stopped);
        m.put("error", failure);
        m.put("options", options.json());
        m.put("errors", new ArrayList<>(errors));
        return m;
    }

    /** The rate cap on stored bytes: a bucket of up to one second's worth that a fetch waits to be non-negative. */
    static final class TokenBucket {
        private final long rate;
        private double tokens;
        private long last = System.nanoTime();

        TokenBucket(long rate) {
            this.rate = rate;
            this.tokens = rate;
        }

        /** Bytes stored: the size is known only after a fetch, so the bucket may go below zero. */
        synchronized void take(long n) {
            refill();
            tokens -= n;
        }

        /** Waits until the bucket is not below zero. */
        void await() throws InterruptedException {
            while (true) {
                long waitNanos;
                synchronized (this) {
                    refill();
                    if (tokens >= 0) {
                        return;
                    }
                    waitNanos = (long) (-tokens / rate * 1e9);
                }
                TimeUnit.NANOSECONDS.sleep(Math.max(1_000_000, waitNanos));
            }
        }

        private void refill() {
            long now = System.nanoTime();
            tokens = Math.min(rate, tokens + (now - last) / 1e9 * rate);
            last = now;
        }
    }
}
