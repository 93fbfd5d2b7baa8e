package dev.sluice.loadtest;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/** State one run's slots share: what to send, when to stop, where to count. */
final class LoadRun {
    static final int MAX_SAMPLES = 10;

    final InetSocketAddress address;
    final String hostHeader;
    final String extraHeaders; // preformatted "Name: value\r\n" lines
    final Workload workload;
    final boolean verify;
    final boolean discard;
    final long timeoutNanos;
    final long randomSeed;
    final CountDownLatch slotsDone;
    final BodyCache bodyCache = new BodyCache(64L << 20); // upload bodies, generated once per piece
    final List<String> samples = new CopyOnWriteArrayList<>();
    private final AtomicLong sampleCount = new AtomicLong();
    private final AtomicLong tickets; // null: duration bounded
    volatile long windowStart;
    volatile long windowEnd = Long.MAX_VALUE;
    volatile long issueDeadline = Long.MAX_VALUE;
    volatile boolean stopping;

    LoadRun(InetSocketAddress address, String hostHeader, String extraHeaders, Workload workload, boolean verify,
            boolean discard, long timeoutNanos, long requests, int slots, long randomSeed) {
        this.address = address;
        this.hostHeader = hostHeader;
        this.extraHeaders = extraHeaders;
        this.workload = workload;
        this.verify = verify;
        this.discard = discard;
        this.timeoutNanos = timeoutNanos;
        this.tickets = requests > 0 ? new AtomicLong(requests) : null;
        this.slotsDone = new CountDownLatch(slots);
        this.randomSeed = randomSeed;
    }

    /** May one more request be sent? Takes it from the budget in count mode. */
    boolean take() {
        if (stopIssuing()) {
            return false;
        }
        return tickets == null || tickets.getAndDecrement() > 0;
    }

    boolean stopIssuing() {
        return stopping || System.nanoTime() >= issueDeadline || (tickets != null && tickets.get() <= 0);
    }

    void slotDone() {
        slotsDone.countDown();
    }

    void sample(String s) {
        if (sampleCount.getAndIncrement() < MAX_SAMPLES) {
            samples.add(s);
        }
    }
}
