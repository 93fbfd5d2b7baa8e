package dev.sluice.shm;

import java.util.ArrayList;
import java.util.List;

/**
 * The stores of all event loops, built by {@link ShmBuilder}: store {@code i} belongs to loop {@code i}. Closing
 * closes them all. Thread-safe.
 */
public final class Segments implements AutoCloseable {
    private final List<Store> stores;
    private final long budgetBytes;
    private final Backing backing;
    private final LockPolicy lockPolicy;

    Segments(List<Store> stores, long budgetBytes, Backing backing, LockPolicy lockPolicy) {
        this.stores = List.copyOf(stores);
        this.budgetBytes = budgetBytes;
        this.backing = backing;
        this.lockPolicy = lockPolicy;
    }

    /** Number of stores (loops). */
    public int size() {
        return stores.size();
    }

    /** The store of loop {@code loop}. */
    public Store store(int loop) {
        if (loop < 0 || loop >= stores.size()) {
            throw new IndexOutOfBoundsException(String.format("loop %d not in [0, %d)", loop, stores.size()));
        }
        return stores.get(loop);
    }

    /** All stores, by loop index. */
    public List<Store> stores() {
        return stores;
    }

    /** The configured budget; the stores' capacities add up to at most this. */
    public long budgetBytes() {
        return budgetBytes;
    }

    /** Sum of the stores' capacities. */
    public long capacityBytes() {
        long sum = 0;
        for (Store store : stores) {
            sum += store.capacity();
        }
        return sum;
    }

    public Backing backing() {
        return backing;
    }

    public LockPolicy lockPolicy() {
        return lockPolicy;
    }

    /** The stores' stats summed (see {@link StoreStats#sum}). */
    public StoreStats stats() {
        List<StoreStats> all = new ArrayList<>(stores.size());
        for (Store store : stores) {
            all.add(store.stats());
        }
        return StoreStats.sum(all);
    }

    /** Closes every store (after every send from them has completed). Idempotent. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (Store store : stores) {
            try {
                store.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return String.format("Segments[%d x %s, budget %d, lock %s]", stores.size(), backing.label(), budgetBytes,
                lockPolicy.label());
    }
}
