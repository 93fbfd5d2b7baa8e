package dev.sluice.shm;

/**
 * A segment could not be set up (or torn down): memfd_create, ftruncate, mmap or, under {@link LockPolicy#REQUIRED},
 * mlock failed. The message carries the kernel's reason; {@link #errno()} the number (0 when no syscall failed).
 * Never thrown on the allocation path: there, failure is a counted {@code null}.
 */
public final class ShmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    ShmException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    ShmException(String message, int errno, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** The errno of the failed syscall, or 0. */
    public int errno() {
        return errno;
    }
}
