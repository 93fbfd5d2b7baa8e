package dev.sluice.shm;

import java.util.Collection;

/**
 * A snapshot of a store's gauges and counters (or the sum over several stores). Byte gauges are in reserved bytes
 * (whole blocks): {@code allocatedBytes + drainingBytes + freeBytes + quarantinedBytes == capacityBytes}.
 *
 * @param capacityBytes      segment bytes (the budget share)
 * @param allocatedBytes     bytes in live extents
 * @param drainingBytes      bytes in freed extents still referenced by sends or not yet reclaimed by the owner loop
 * @param freeBytes          bytes available to {@link Store#allocate(long)}
 * @param lockedBytes        bytes under mlock
 * @param quarantinedBytes   bytes never reused because punching them out failed (should stay 0)
 * @param drainingAgeNanos   age of the oldest draining extent the owner loop has seen, 0 when none
 * @param drainingExtents    freed extents not yet reclaimed
 * @param allocations        successful allocations
 * @param allocationFailures allocations that returned {@code null}
 * @param frees              extents freed
 * @param reclaims           extents returned to the allocator
 * @param punches            regions punched out of the file before reuse (spliced extents)
 * @param punchedBytes       bytes punched out
 * @param lockFailures       segments that ran unlocked because mlock was refused under {@link LockPolicy#TRY}
 * @param freeRuns           contiguous free runs (1 = no external fragmentation)
 * @param largestFreeBytes   the longest free run (exact unless its size class holds many runs; then within 1/8)
 */
public record StoreStats(
        long capacityBytes,
        long allocatedBytes,
        long drainingBytes,
        long freeBytes,
        long lockedBytes,
        long quarantinedBytes,
        long drainingAgeNanos,
        long drainingExtents,
        long allocations,
        long allocationFailures,
        long frees,
        long reclaims,
        long punches,
        long punchedBytes,
        long lockFailures,
        long freeRuns,
        long largestFreeBytes) {

    /**
     * External fragmentation of the free space: {@code 1 - largestFreeBytes / freeBytes}; 0 when all free bytes are
     * one run (or none are free), approaching 1 when they are scattered.
     */
    public double fragmentation() {
        return freeBytes == 0 ? 0.0 : 1.0 - (double) largestFreeBytes / freeBytes;
    }

    /** Share of the capacity not available for allocation: {@code (allocated + draining) / capacity}. */
    public double occupancy() {
        return capacityBytes == 0 ? 0.0 : (double) (capacityBytes - freeBytes) / capacityBytes;
    }

    /**
     * Sums stats of several stores: counters and byte gauges add, {@code drainingAgeNanos} and
     * {@code largestFreeBytes} are the maximum.
     */
    public static StoreStats sum(Collection<StoreStats> all) {
        long capacity = 0, allocated = 0, draining = 0, free = 0, locked = 0, quarantined = 0, age = 0, drainingN = 0,
                allocations = 0, failures = 0, frees = 0, reclaims = 0, punches = 0, punched = 0, lockFailures = 0,
                runs = 0, largest = 0;
        for (StoreStats s : all) {
            capacity += s.capacityBytes;
            allocated += s.allocatedBytes;
            draining += s.drainingBytes;
            free += s.freeBytes;
            locked += s.lockedBytes;
            quarantined += s.quarantinedBytes;
            age = Math.max(age, s.drainingAgeNanos);
            drainingN += s.drainingExtents;
            allocations += s.allocations;
            failures += s.allocationFailures;
            frees += s.frees;
            reclaims += s.reclaims;
            punches += s.punches;
            punched += s.punchedBytes;
            lockFailures += s.lockFailures;
            runs += s.freeRuns;
            largest = Math.max(largest, s.largestFreeBytes);
        }
        return new StoreStats(capacity, allocated, draining, free, locked, quarantined, age, drainingN, allocations,
                failures, frees, reclaims, punches, punched, lockFailures, runs, largest);
    }
}
