package dev.sluice.splice;

/** A kernel pipe owned by a {@link PipePool}: non-blocking, close-on-exec, sized with F_SETPIPE_SZ. */
final class Pipe {
    final int readFd;
    final int writeFd;
    /** Capacity in bytes as the kernel reports it (F_SETPIPE_SZ result). */
    final int capacity;

    Pipe(int readFd, int writeFd, int capacity) {
        this.readFd = readFd;
        this.writeFd = writeFd;
        this.capacity = capacity;
    }

    void close() {
        Syscalls.close(readFd);
        Syscalls.close(writeFd);
    }

    @Override
    public String toString() {
        return "Pipe[r=" + readFd + ", w=" + writeFd + ", capacity=" + capacity + ']';
    }
}
