package dev.sluice.shm;

import java.util.Arrays;

/**
 * Extent allocator over {@code units} equal blocks: a two-level segregated fit (TLSF) with immediate coalescing.
 * Allocation and free are O(1): sizes map to one of 8 sub-classes per power of two, found through two bitmaps;
 * neighbours are found through boundary tags, so no search walks the free space.
 *
 * <p>Not thread-safe, on purpose: each store's allocator is touched only by its owner event loop (loops share
 * nothing), so the allocation path has neither locks nor atomics. Releases from other threads reach it through the store's
 * queues.
 *
 * <p>Metadata lives on the Java heap, never inside the shared segment (whose pages may be punched out or sent to the
 * kernel): two ints per block (8 bytes per 4 KiB block, 0.2 %) plus one small record per free run.
 * <ul>
 *   <li>{@code head[first block of a run]}: {@code +length} for a used run, {@code -(slot + 1)} for a free run
 *       (slot = its free-run record);</li>
 *   <li>{@code tail[last block of a run]}: the run's first block, so freeing can find its left neighbour.</li>
 * </ul>
 * Entries inside runs are stale and never read.
 */
final class Allocator {
    private static final int SL_LOG2 = 3;
    private static final int SL = 1 << SL_LOG2;
    /** Levels: 0 holds the exact sizes 1..7, level f-2 holds [2^f, 2^(f+1)); lengths are below 2^31, so f <= 30. */
    private static final int FL = 29;
    /** How many runs of the top size class {@link #largestFreeUnits()} looks at. */
    private static final int LARGEST_SCAN = 8;

    private final int units;
    private final int[] head;
    private final int[] tail;

    // Free-run records, indexed by slot; unused slots form a list through next[].
    private int[] start;
    private int[] length;
    private int[] next;
    private int[] prev;
    private int unusedSlot = -1;
    private int slotHighWater;

    private final int[] binHead = new int[FL * SL];
    private int flBitmap;
    private final int[] slBitmap = new int[FL];

    private long freeUnits;
    private int freeRuns;

    Allocator(int units) {
        if (units <= 0) {
            throw new IllegalArgumentException(String.format("units must be positive: %d", units));
        }
        this.units = units;
        this.head = new int[units];
        this.tail = new int[units];
        int slots = 16;
        this.start = new int[slots];
        this.length = new int[slots];
        this.next = new int[slots];
        this.prev = new int[slots];
        Arrays.fill(binHead, -1);
        insertFree(0, units);
    }

    int units() {
        return units;
    }

    long freeUnits() {
        return freeUnits;
    }

    int freeRuns() {
        return freeRuns;
    }

    /**
     * Reserves {@code n} contiguous blocks; returns the first block, or -1 when no free run is that long. Fails only
     * when no free run of {@code n} blocks exists (the rounded-up O(1) search is backed by a scan of the one size class
     * that may still hold a fit).
     */
    int allocate(int n) {
        if (n <= 0 || n > units) {
            return -1;
        }
        int slot = findFit(n);
        if (slot < 0) {
            return -1;
        }
        int first = start[slot];
        int runLength = length[slot];
        removeFree(slot);
        releaseSlot(slot);
        head[first] = n;
        tail[first + n - 1] = first;
        if (runLength > n) {
            insertFree(first + n, runLength - n);
        }
        return first;
    }

    /** Returns the used run that {@link #allocate} handed out at {@code first}, merging it with free neighbours. */
    void free(int first, int n) {
        if (first < 0 || n <= 0 || first + n > units || head[first] != n) {
            throw new IllegalStateException(String.format(
                    "block %d (length %d) is not an allocated run (head=%d)", first, n,
                    first >= 0 && first < units ? head[first] : 0));
        }
        int runFirst = first;
        int runLength = n;
        if (first > 0) {
            int left = tail[first - 1];
            int tag = head[left];
            if (tag < 0) {
                int slot = -tag - 1;
                runFirst = left;
                runLength += length[slot];
                removeFree(slot);
                releaseSlot(slot);
            }
        }
        int right = first + n;
        if (right < units) {
            int tag = head[right];
            if (tag < 0) {
                int slot = -tag - 1;
                runLength += length[slot];
                removeFree(slot);
                releaseSlot(slot);
            }
        }
        insertFree(runFirst, runLength);
    }

    /**
     * The longest free run in blocks: exact when the top size class holds up to {@value #LARGEST_SCAN} runs, otherwise
     * within that class (runs of one class differ by less than 1/8).
     */
    int largestFreeUnits() {
        if (flBitmap == 0) {
            return 0;
        }
        int fl = 31 - Integer.numberOfLeadingZeros(flBitmap);
        int sl = 31 - Integer.numberOfLeadingZeros(slBitmap[fl]);
        int best = 0;
        int slot = binHead[fl * SL + sl];
        for (int i = 0; i < LARGEST_SCAN && slot >= 0; i++, slot = next[slot]) {
            best = Math.max(best, length[slot]);
        }
        return best;
    }

    private int findFit(int n) {
        int fl;
        int sl;
        if (n < SL) {
            fl = 0;
            sl = n;
        } else {
            // Round up to the next class boundary so that every run in the first non-empty class found fits.
            int f = 31 - Integer.numberOfLeadingZeros(n);
            long rounded = (long) n + (1L << (f - SL_LOG2)) - 1;
            if (rounded > Integer.MAX_VALUE) {
                return scanClass(n);
            }
            int r = (int) rounded;
            int rf = 31 - Integer.numberOfLeadingZeros(r);
            fl = rf - (SL_LOG2 - 1);
            sl = (r >>> (rf - SL_LOG2)) - SL;
        }
        int slMap = slBitmap[fl] & (-1 << sl);
        if (slMap == 0) {
            int flMap = fl + 1 < 32 ? flBitmap & (-1 << (fl + 1)) : 0;
            if (flMap == 0) {
                return n < SL ? -1 : scanClass(n);
            }
            fl = Integer.numberOfTrailingZeros(flMap);
            slMap = slBitmap[fl];
        }
        sl = Integer.numberOfTrailingZeros(slMap);
        return binHead[fl * SL + sl];
    }

    /** First fit within {@code n}'s own size class: the only place a fit can hide when the rounded search fails. */
    private int scanClass(int n) {
        int bin = bin(n);
        for (int slot = binHead[bin]; slot >= 0; slot = next[slot]) {
            if (length[slot] >= n) {
                return slot;
            }
        }
        return -1;
    }

    private static int bin(int n) {
        if (n < SL) {
            return n;
        }
        int f = 31 - Integer.numberOfLeadingZeros(n);
        return (f - (SL_LOG2 - 1)) * SL + ((n >>> (f - SL_LOG2)) - SL);
    }

    private void insertFree(int first, int n) {
        int slot = takeSlot();
        start[slot] = first;
        length[slot] = n;
        head[first] = -(slot + 1);
        tail[first + n - 1] = first;
        int bin = bin(n);
        int old = binHead[bin];
        next[slot] = old;
        prev[slot] = -1;
        if (old >= 0) {
            prev[old] = slot;
        }
        binHead[bin] = slot;
        int fl = bin / SL;
        slBitmap[fl] |= 1 << (bin % SL);
        flBitmap |= 1 << fl;
        freeUnits += n;
        freeRuns++;
    }

    private void removeFree(int slot) {
        int bin = bin(length[slot]);
        int p = prev[slot];
        int nx = next[slot];
        if (p >= 0) {
            next[p] = nx;
        } else {
            binHead[bin] = nx;
            if (nx < 0) {
                int fl = bin / SL;
                slBitmap[fl] &= ~(1 << (bin % SL));
                if (slBitmap[fl] == 0) {
                    flBitmap &= ~(1 << fl);
                }
            }
        }
        if (nx >= 0) {
            prev[nx] = p;
        }
        freeUnits -= length[slot];
        freeRuns--;
    }

    private int takeSlot() {
        int slot = unusedSlot;
        if (slot >= 0) {
            unusedSlot = next[slot];
            return slot;
        }
        if (slotHighWater == start.length) {
            int grown = start.length * 2;
            start = Arrays.copyOf(start, grown);
            length = Arrays.copyOf(length, grown);
            next = Arrays.copyOf(next, grown);
            prev = Arrays.copyOf(prev, grown);
        }
        return slotHighWater++;
    }

    private void releaseSlot(int slot) {
        next[slot] = unusedSlot;
        unusedSlot = slot;
    }

    /**
     * Walks every run from block 0 and cross-checks tags, bins and counters; throws on the first inconsistency. For
     * tests: O(units).
     */
    void checkInvariants() {
        long free = 0;
        int runs = 0;
        boolean previousFree = false;
        int b = 0;
        while (b < units) {
            int tag = head[b];
            int n;
            if (tag > 0) {
                n = tag;
                previousFree = false;
            } else if (tag < 0) {
                int slot = -tag - 1;
                if (start[slot] != b) {
                    throw new IllegalStateException(String.format("free run at %d points at slot %d starting %d",
                            b, slot, start[slot]));
                }
                n = length[slot];
                if (previousFree) {
                    throw new IllegalStateException(String.format("adjacent free runs not merged at %d", b));
                }
                if (!inBin(slot, bin(n))) {
                    throw new IllegalStateException(String.format("free run at %d (length %d) missing from its bin",
                            b, n));
                }
                previousFree = true;
                free += n;
                runs++;
            } else {
                throw new IllegalStateException(String.format("no run starts at block %d", b));
            }
            if (n <= 0 || b + n > units) {
                throw new IllegalStateException(String.format("run at %d has bad length %d", b, n));
            }
            if (tail[b + n - 1] != b) {
                throw new IllegalStateException(String.format("tail of run at %d says %d", b, tail[b + n - 1]));
            }
            b += n;
        }
        if (free != freeUnits || runs != freeRuns) {
            throw new IllegalStateException(String.format("counters say %d free blocks in %d runs, walk found %d in %d",
                    freeUnits, freeRuns, free, runs));
        }
        int binned = 0;
        for (int bin = 0; bin < binHead.length; bin++) {
            boolean bit = (slBitmap[bin / SL] & (1 << (bin % SL))) != 0;
            if (bit != (binHead[bin] >= 0)) {
                throw new IllegalStateException(String.format("bitmap disagrees with bin %d", bin));
            }
            for (int slot = binHead[bin]; slot >= 0; slot = next[slot]) {
                binned++;
            }
        }
        for (int fl = 0; fl < FL; fl++) {
            if (((flBitmap & (1 << fl)) != 0) != (slBitmap[fl] != 0)) {
                throw new IllegalStateException(String.format("first-level bitmap disagrees at level %d", fl));
            }
        }
        if (binned != runs) {
            throw new IllegalStateException(String.format("bins hold %d runs, walk found %d", binned, runs));
        }
    }

    private boolean inBin(int slot, int bin) {
        for (int s = binHead[bin]; s >= 0; s = next[s]) {
            if (s == slot) {
                return true;
            }
        }
        return false;
    }
}
