package dev.sluice.splice;

/** A splice or poll on one of the sockets failed with an errno (e.g. ECONNRESET, EPIPE). */
public final class SpliceIoException extends SpliceException {
    private static final long serialVersionUID = 1L;
    private final String operation;
    private final int errno;

    SpliceIoException(String operation, int errno) {
        super(operation + " failed: " + Syscalls.errnoName(errno));
        this.operation = operation;
        this.errno = errno;
    }

    SpliceIoException(String operation, Throwable cause) {
        super(operation + " failed: " + cause);
        initCause(cause);
        this.operation = operation;
        this.errno = 0;
    }

    /** What failed, e.g. {@code "splice socket->pipe"}. */
    public String operation() {
        return operation;
    }

    /** The positive errno the kernel reported, or 0 when the failure came from Netty rather than a CQE. */
    public int errno() {
        return errno;
    }
}
