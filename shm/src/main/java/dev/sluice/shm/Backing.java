package dev.sluice.shm;

import java.util.Locale;

/** What memory a {@link Store} sits on. Labels are stable lowercase names for logs and metrics. */
public enum Backing {
    /** An anonymous memfd_create(2) file, mapped shared: spliceable by fd and offset, gone when closed. */
    MEMFD,
    /**
     * A named file under {@code /dev/shm} (what shm_open(3) creates), mapped shared: like {@link #MEMFD} but with a
     * name another process could open. Unlinked on close.
     */
    POSIX_SHM,
    /** A Java heap array: no fd, nothing to splice from, nothing to lock. For tests and machines without memfd. */
    HEAP;

    private final String label = name().toLowerCase(Locale.ROOT).replace('_', '-');

    /** {@code memfd}, {@code posix-shm} or {@code heap}. */
    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return label;
    }
}
