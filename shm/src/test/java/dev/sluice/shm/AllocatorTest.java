package dev.sluice.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class AllocatorTest {

    /** The obviously correct model: used runs by first block; gaps between them are free. */
    private static final class Model {
        final int units;
        final TreeMap<Integer, Integer> used = new TreeMap<>();

        Model(int units) {
            this.units = units;
        }

        void add(int first, int n) {
            Map.Entry<Integer, Integer> below = used.floorEntry(first + n - 1);
            if (below != null && below.getKey() + below.getValue() > first) {
                throw new AssertionError(String.format("[%d,+%d) overlaps used [%d,+%d)", first, n, below.getKey(),
                        below.getValue()));
            }
            if (first < 0 || first + n > units) {
                throw new AssertionError(String.format("[%d,+%d) outside [0,%d)", first, n, units));
            }
            used.put(first, n);
        }

        List<Integer> gaps() {
            List<Integer> gaps = new ArrayList<>();
            int at = 0;
            for (Map.Entry<Integer, Integer> e : used.entrySet()) {
                if (e.getKey() > at) {
                    gaps.add(e.getKey() - at);
                }
                at = e.getKey() + e.getValue();
            }
            if (units > at) {
                gaps.add(units - at);
            }
            return gaps;
        }
    }

    @Test
    void allocate_randomSequences_noOverlapAndAccountingMatchesModel() {
        for (long seed = 1; seed <= 40; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            int units = 1 + random.nextInt(4000);
            Allocator allocator = new Allocator(units);
            Model model = new Model(units);
            List<int[]> live = new ArrayList<>();
            for (int op = 0; op < 3000; op++) {
                if (live.isEmpty() || random.nextInt(100) < 55) {
                    int n = randomSize(random, units);
                    int first = allocator.allocate(n);
                    List<Integer> gaps = model.gaps();
                    int largest = gaps.stream().mapToInt(Integer::intValue).max().orElse(0);
                    if (first < 0) {
                        assertTrue(largest < n, String.format(
                                "seed %d: allocate(%d) failed although a free run of %d exists", seed, n, largest));
                    } else {
                        model.add(first, n);
                        live.add(new int[] {first, n});
                    }
                } else {
                    int[] victim = live.remove(random.nextInt(live.size()));
                    allocator.free(victim[0], victim[1]);
                    model.used.remove(victim[0]);
                }
                if (op % 50 == 0 || op == 2999) {
                    checkAgainstModel(allocator, model, seed);
                }
            }
            for (int[] run : live) {
                allocator.free(run[0], run[1]);
            }
            allocator.checkInvariants();
            assertEquals(units, allocator.freeUnits(), "everything free again");
            assertEquals(1, allocator.freeRuns(), "and coalesced into one run");
        }
    }

    private static int randomSize(SplittableRandom random, int units) {
        return switch (random.nextInt(4)) {
            case 0 -> 1 + random.nextInt(Math.min(units, 8));
            case 1 -> 1 + random.nextInt(Math.min(units, 64));
            case 2 -> 1 + random.nextInt(Math.max(1, units / 8));
            default -> 1 + random.nextInt(units);
        };
    }

    private static void checkAgainstModel(Allocator allocator, Model model, long seed) {
        allocator.checkInvariants();
        List<Integer> gaps = model.gaps();
        long free = gaps.stream().mapToLong(Integer::longValue).sum();
        int largest = gaps.stream().mapToInt(Integer::intValue).max().orElse(0);
        long used = model.used.values().stream().mapToLong(Integer::longValue).sum();
        assertEquals(free, allocator.freeUnits(), "seed " + seed + ": free blocks");
        assertEquals(model.units, used + allocator.freeUnits(), "seed " + seed + ": used + free = all");
        assertEquals(gaps.size(), allocator.freeRuns(), "seed " + seed + ": free runs");
        int reported = allocator.largestFreeUnits();
        assertTrue(reported <= largest && reported >= largest - largest / 8,
                String.format("seed %d: largest free %d reported as %d", seed, largest, reported));
    }

    @Test
    void allocate_oneBlockAtATime_fillsExactlyThenFails() {
        Allocator allocator = new Allocator(1000);
        for (int i = 0; i < 1000; i++) {
            assertEquals(i, allocator.allocate(1), "lowest address first");
        }
        assertEquals(-1, allocator.allocate(1));
        assertEquals(0, allocator.freeUnits());
        for (int i = 0; i < 1000; i += 2) {
            allocator.free(i, 1);
        }
        allocator.checkInvariants();
        assertEquals(500, allocator.freeRuns(), "every other block free: 500 runs");
        assertEquals(-1, allocator.allocate(2), "no two adjacent free blocks");
        for (int i = 1; i < 1000; i += 2) {
            allocator.free(i, 1);
        }
        allocator.checkInvariants();
        assertEquals(1, allocator.freeRuns());
        assertEquals(1000, allocator.allocate(1000) + 1000, "whole range in one piece again");
    }

    @Test
    void allocate_exactFitInSizeClass_foundByFallbackScan() {
        // Free runs of 1000 and 1100 blocks fall in the same size class; asking for 1050 must find the 1100 one even
        // though the O(1) search rounds the request up past that class.
        Allocator allocator = new Allocator(1000 + 1 + 1100 + 1);
        int a = allocator.allocate(1000);
        int sep1 = allocator.allocate(1);
        int b = allocator.allocate(1100);
        int sep2 = allocator.allocate(1);
        assertEquals(0, allocator.freeUnits());
        allocator.free(a, 1000);
        allocator.free(b, 1100);
        assertEquals(b, allocator.allocate(1050));
        assertEquals(-1, allocator.allocate(1001));
        assertEquals(a, allocator.allocate(1000));
        allocator.checkInvariants();
        assertTrue(sep1 >= 0 && sep2 >= 0);
    }

    @Test
    void free_notAnAllocatedRun_throwsIllegalState() {
        Allocator allocator = new Allocator(100);
        int first = allocator.allocate(10);
        assertThrows(IllegalStateException.class, () -> allocator.free(first, 9));
        assertThrows(IllegalStateException.class, () -> allocator.free(first + 10, 5));
        allocator.free(first, 10);
        assertThrows(IllegalStateException.class, () -> allocator.free(first, 10), "double free");
    }

    @Test
    void allocate_nonPositiveOrTooLarge_returnsMinusOne() {
        Allocator allocator = new Allocator(16);
        assertEquals(-1, allocator.allocate(0));
        assertEquals(-1, allocator.allocate(17));
        assertEquals(0, allocator.allocate(16));
    }
}
