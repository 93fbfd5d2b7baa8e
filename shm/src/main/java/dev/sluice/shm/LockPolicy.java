package dev.sluice.shm;

import java.util.Locale;

/**
 * Whether a segment's pages are locked in memory with mlock(2), so cache hits never wait for swap-in and the kernel
 * never reclaims pages that sends are about to read. The {@linkplain #label() labels} are stable lowercase names,
 * used alike in configuration, logs and metrics.
 */
public enum LockPolicy {
    /** Lock, and fail start-up with the kernel's reason (RLIMIT_MEMLOCK, missing CAP_IPC_LOCK) when refused. */
    REQUIRED,
    /** Lock if allowed; when refused, log the reason once per process, count it, and run unlocked. */
    TRY,
    /** Do not lock. */
    OFF;

    private final String label = name().toLowerCase(Locale.ROOT);

    /** {@code required}, {@code try} or {@code off}. */
    public String label() {
        return label;
    }

    /** The policy whose {@linkplain #label() label} is {@code label} (case-insensitive). */
    public static LockPolicy fromLabel(String label) {
        for (LockPolicy policy : values()) {
            if (policy.label.equalsIgnoreCase(label.trim())) {
                return policy;
            }
        }
        throw new IllegalArgumentException(String.format(
                "unknown lock policy '%s': expected required, try or off", label));
    }

    @Override
    public String toString() {
        return label;
    }
}
