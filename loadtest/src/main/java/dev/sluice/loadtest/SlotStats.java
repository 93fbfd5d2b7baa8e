package dev.sluice.loadtest;

import org.HdrHistogram.Histogram;

/** Counters of one client slot, written only on its event loop, merged after the loops stopped. */
final class SlotStats {
    final Histogram latency = new Histogram(3); // microseconds, auto-resizing
    long connects;
    long completed;
    long windowRequests;
    long failedRequests;
    long bodyBytes;
    long windowBytes;
    long errors;
    long timeouts;
    long wrongStatus;
    long shortBodies;
    long longBodies;
    long wrongBytes;
    long wrongRange;

    void add(SlotStats o) {
        latency.add(o.latency);
        connects += o.connects;
        completed += o.completed;
        windowRequests += o.windowRequests;
        failedRequests += o.failedRequests;
        bodyBytes += o.bodyBytes;
        windowBytes += o.windowBytes;
        errors += o.errors;
        timeouts += o.timeouts;
        wrongStatus += o.wrongStatus;
        shortBodies += o.shortBodies;
        longBodies += o.longBodies;
        wrongBytes += o.wrongBytes;
        wrongRange += o.wrongRange;
    }
}
