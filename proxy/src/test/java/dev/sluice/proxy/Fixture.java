package dev.sluice.proxy;

import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.loadtest.Origin;

/**
 * Starts origins on port 0 and a Sluice from HOCON in which %1$d, %2$d, ... are the origins' ports.
 * Every buffer is leak-tracked (paranoid, unless the HOCON says otherwise), and {@link #close} fails the
 * test when a leak was reported while it ran.
 */
final class Fixture implements AutoCloseable {
    final Origin[] origins;
    final Sluice sluice;
    private final long leaksBefore;

    Fixture(String hoconTemplate, String... originNames) throws Exception {
        this(() -> System.currentTimeMillis() / 1000, hoconTemplate, originNames);
    }

    /** With the clock (epoch seconds) the cache judges freshness by. */
    Fixture(java.util.function.LongSupplier clock, String hoconTemplate, String... originNames) throws Exception {
        leaksBefore = BufferLeaks.reports();
        origins = new Origin[originNames.length];
        Object[] ports = new Object[originNames.length];
        for (int i = 0; i < originNames.length; i++) {
            origins[i] = Origin.builder().name(originNames[i]).build();
            ports[i] = origins[i].port();
        }
        SluiceConfig config = ConfigLoader.parse("sluice.buffer-leak-detection = paranoid\n"
                + String.format(hoconTemplate, ports), "test.conf");
        sluice = Sluice.start(config, clock);
    }

    int port() {
        return sluice.port("http");
    }

    Origin origin(int i) {
        return origins[i];
    }

    long upstreamRequests() {
        long n = 0;
        for (Origin o : origins) {
            n += o.requestsReceived();
        }
        return n;
    }

    TestClient client() throws java.io.IOException {
        return new TestClient(port());
    }

    /**
     * A config with one route to origin 0 and test-friendly settings; {@code extra} is merged in and
     * may use the origins' %N$d ports too (write %% for a literal percent).
     */
    static String simple(String extra) {
        return """
                sluice {
                  event-loops = 2
                  listeners = [ { name = http, address = "127.0.0.1:0" } ]
                  upstreams { origin { servers = ["127.0.0.1:%1$d"] } }
                  routes = [ { name = main, upstream = origin } ]
                  admin.address = "127.0.0.1:0"
                  access-log.enabled = false
                  # background warm jobs do not wait for the CPU of a machine the tests keep busy (WarmJobTest tests
                  # that wait with a setting of its own)
                  cache.warm.max-cpu-percent = 100
                }
                """ + extra;
    }

    @Override
    public void close() {
        sluice.close();
        for (Origin o : origins) {
            o.close();
        }
        long leaks = settleLeaks() - leaksBefore;
        if (leaks > 0) {
            throw new AssertionError(leaks + " buffer leak report(s) while this fixture ran: see the LEAK log lines");
        }
    }

    /**
     * Makes Netty report the leaks there are by now: a full GC, a wait until references it cleared are
     * enqueued, then a tracked allocation (Netty polls its queue of collected buffers on each one).
     * Returns {@link BufferLeaks#reports()} after that.
     */
    static long settleLeaks() {
        java.lang.ref.ReferenceQueue<Object> q = new java.lang.ref.ReferenceQueue<>();
        java.lang.ref.WeakReference<Object> sentinel = new java.lang.ref.WeakReference<>(new Object(), q);
        System.gc();
        try {
            q.remove(2000); // the reference handler has run since the GC
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(16).release();
        java.lang.ref.Reference.reachabilityFence(sentinel);
        return BufferLeaks.reports();
    }
}
