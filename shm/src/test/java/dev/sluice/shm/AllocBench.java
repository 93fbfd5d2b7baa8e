package dev.sluice.shm;

import java.util.SplittableRandom;

/**
 * Allocate/free throughput of one store on one thread (the owner loop's view). Not a test and not JMH: a plain main
 * with warm-up rounds, reporting the median of the measured rounds. See shm/README.md for how to run it.
 *
 * <p>Scenarios:
 * <ul>
 *   <li>{@code churn-4k}: allocate 4 KiB, free it, repeat (the free is reclaimed by the next allocate);</li>
 *   <li>{@code steady-mixed}: a working set of live extents of 4 KiB..1 MiB (log-uniform) at ~70 % occupancy; each
 *       step frees a random live extent and allocates a new one;</li>
 *   <li>{@code steady-mixed+send}: the same, but every extent is retained and released once (a send) before or after
 *       its free, so half the frees go through draining;</li>
 *   <li>{@code allocator-only}: the bare {@link Allocator} under {@code steady-mixed}, to show the store's overhead.</li>
 * </ul>
 */
public final class AllocBench {
    private static final long CAPACITY = 1L << 30;
    private static final int BLOCK = 4096;

    private AllocBench() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        long opsPerRound = args.length > 1 ? Long.parseLong(args[1]) : 2_000_000;
        System.out.printf("AllocBench: 1 GiB memfd store (unpopulated, unlocked), %d-byte blocks, %d rounds x %d ops,"
                + " java %s%n", BLOCK, rounds, opsPerRound, Runtime.version());
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(CAPACITY).lockPolicy(LockPolicy.OFF)
                .populate(false).name("allocbench").build()) {
            Store store = segments.store(0);
            report("churn-4k", rounds, () -> churn(store, opsPerRound), opsPerRound);
            report("steady-mixed", rounds, () -> steady(store, opsPerRound, false, 1), opsPerRound);
            report("steady-mixed+send", rounds, () -> steady(store, opsPerRound, true, 2), opsPerRound);
            report("allocator-only", rounds, () -> allocatorOnly(opsPerRound, 3), opsPerRound);
            StoreStats s = store.stats();
            System.out.printf("store after: allocations=%d failures=%d reclaims=%d freeRuns=%d fragmentation=%.3f%n",
                    s.allocations(), s.allocationFailures(), s.reclaims(), s.freeRuns(), s.fragmentation());
        }
    }

    private interface Round {
        long run(); // returns a checksum so the JIT cannot drop the work
    }

    private static void report(String name, int rounds, Round round, long ops) {
        long sink = 0;
        for (int i = 0; i < 2; i++) {
            sink += round.run(); // warm-up
        }
        double[] mops = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            sink += round.run();
            long elapsed = System.nanoTime() - t0;
            mops[i] = ops * 1e3 / elapsed;
        }
        java.util.Arrays.sort(mops);
        double median = mops[rounds / 2];
        System.out.printf("%-20s %6.2f M alloc+free/s  (%5.0f ns per pair; min %.2f max %.2f)  [%d]%n", name, median,
                1e3 / median, mops[0], mops[rounds - 1], sink & 1);
    }

    private static long churn(Store store, long ops) {
        long sum = 0;
        for (long i = 0; i < ops; i++) {
            Extent e = store.allocate(BLOCK);
            sum += e.offset();
            e.free();
        }
        store.reclaim();
        return sum;
    }

    /** Log-uniform sizes 4 KiB .. 1 MiB, precomputed so the loops measure the store, not Math.exp. */
    private static final long[] SIZES = new long[1 << 16];

    static {
        SplittableRandom random = new SplittableRandom(99);
        for (int i = 0; i < SIZES.length; i++) {
            SIZES[i] = (long) Math.exp(Math.log(4096) + random.nextDouble() * (Math.log(1 << 20) - Math.log(4096)));
        }
    }

    private static long size(SplittableRandom random) {
        return SIZES[random.nextInt(SIZES.length)];
    }

    private static long steady(Store store, long ops, boolean send, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        // Mean size ~ 185 KiB; 3900 of them fill ~70 % of 1 GiB.
        Extent[] live = new Extent[3900];
        long sum = 0;
        for (int i = 0; i < live.length; i++) {
            live[i] = store.allocate(size(random));
        }
        for (long i = 0; i < ops; i++) {
            int victim = random.nextInt(live.length);
            Extent old = live[victim];
            if (old != null) {
                if (send) {
                    old.retain();
                    if ((i & 1) == 0) {
                        old.free();
                        old.release(); // drained by the send's release
                    } else {
                        old.release();
                        old.free();
                    }
                } else {
                    old.free();
                }
            }
            Extent e = store.allocate(size(random));
            live[victim] = e;
            if (e != null) {
                sum += e.offset();
            }
        }
        for (Extent e : live) {
            if (e != null) {
                e.free();
            }
        }
        store.reclaim();
        return sum;
    }

    private static long allocatorOnly(long ops, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Allocator allocator = new Allocator((int) (CAPACITY / BLOCK));
        int[] first = new int[3900];
        int[] units = new int[3900];
        long sum = 0;
        for (int i = 0; i < first.length; i++) {
            units[i] = (int) ((size(random) + BLOCK - 1) / BLOCK);
            first[i] = allocator.allocate(units[i]);
        }
        for (long i = 0; i < ops; i++) {
            int victim = random.nextInt(first.length);
            if (first[victim] >= 0) {
                allocator.free(first[victim], units[victim]);
            }
            units[victim] = (int) ((size(random) + BLOCK - 1) / BLOCK);
            first[victim] = allocator.allocate(units[victim]);
            sum += first[victim];
        }
        return sum;
    }
}
