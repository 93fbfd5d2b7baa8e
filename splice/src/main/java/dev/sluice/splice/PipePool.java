package dev.sluice.splice;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * The pipes of one event loop. Confined to that loop: no locks. Pipes are created on demand up to {@code max},
 * reused LIFO (the most recently used pipe's pages are the warmest), drained or discarded when a failed transfer
 * leaves bytes in them, and all closed on {@link #close()}.
 *
 * <p>Why pool at all: each pipe costs two fds and, once sized to 1 MiB, 256 pages of the per-user pipe budget
 * (fs.pipe-user-pages-soft, 64 MiB by default); creating one per transfer costs three syscalls and, past the soft
 * limit, silently yields 8 KiB pipes. A bounded pool makes the budget explicit and turns exhaustion into a counted
 * copy fallback.
 */
final class PipePool {
    /** /proc/sys/fs/pipe-max-size, or {@code Integer.MAX_VALUE} when unreadable. */
    static final int PIPE_MAX_SIZE = readPipeMaxSize();

    private static final int SCRATCH_SIZE = 64 * 1024;

    private final int max;
    private final int requestedSize;
    private final SpliceMetrics metrics;
    private final ArrayDeque<Pipe> idle = new ArrayDeque<>();
    private int open;
    private int inUse;
    private boolean closed;
    private FallbackReason lastFailure;
    private MemorySegment scratch;

    PipePool(int max, int requestedSize, SpliceMetrics metrics) {
        this.max = max;
        this.requestedSize = Math.min(requestedSize, PIPE_MAX_SIZE);
        this.metrics = metrics;
        metrics.poolOpened(max);
    }

    private static int readPipeMaxSize() {
        // Not Files.readString: on procfs (size 0) it returned only the first byte here ("1" for 1048576).
        try (InputStream in = new FileInputStream("/proc/sys/fs/pipe-max-size")) {
            int max = Integer.parseInt(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim());
            return max > 0 ? max : Integer.MAX_VALUE;
        } catch (IOException | RuntimeException e) {
            return Integer.MAX_VALUE;
        }
    }

    int requestedSize() {
        return requestedSize;
    }

    int open() {
        return open;
    }

    int inUse() {
        return inUse;
    }

    int idle() {
        return idle.size();
    }

    /** Why the last {@link #acquire()} returned null. */
    FallbackReason lastFailure() {
        return lastFailure;
    }

    /** An idle or new pipe, or null with {@link #lastFailure()} set. */
    Pipe acquire() {
        if (closed) {
            lastFailure = FallbackReason.CLOSED;
            return null;
        }
        Pipe p = idle.pollFirst();
        if (p == null) {
            if (open >= max) {
                lastFailure = FallbackReason.POOL_EXHAUSTED;
                return null;
            }
            p = create();
            if (p == null) {
                return null;
            }
        }
        inUse++;
        metrics.pipeAcquired();
        return p;
    }

    private Pipe create() {
        int[] fds = new int[2];
        int r = Syscalls.pipe(fds);
        if (r < 0) {
            lastFailure = reasonFor(-r);
            return null;
        }
        int size = Syscalls.fcntl(fds[1], Syscalls.F_SETPIPE_SZ, requestedSize);
        if (size < 0) {
            Syscalls.close(fds[0]);
            Syscalls.close(fds[1]);
            lastFailure = reasonFor(-size);
            return null;
        }
        open++;
        metrics.pipeCreated();
        return new Pipe(fds[0], fds[1], size);
    }

    static FallbackReason reasonFor(int errno) {
        return switch (errno) {
            case Syscalls.EPERM, 12 /* ENOMEM */ -> FallbackReason.PIPE_LIMIT;
            case Syscalls.EMFILE, Syscalls.ENFILE -> FallbackReason.FD_LIMIT;
            default -> FallbackReason.PIPE_ERROR;
        };
    }

    /**
     * Returns a pipe. {@code leftover} is the exact number of bytes a failed transfer left in it (known because all
     * of the transfer's operations have completed): they are read and discarded so the next transfer starts on an
     * empty pipe; a pipe that cannot be emptied is closed instead.
     */
    void release(Pipe p, long leftover) {
        inUse--;
        metrics.pipeReleased();
        boolean clean = leftover == 0 || drain(p, leftover);
        if (closed || !clean) {
            open--;
            metrics.pipeClosed(!clean);
            p.close();
            return;
        }
        idle.addFirst(p);
    }

    private boolean drain(Pipe p, long leftover) {
        if (scratch == null) {
            // Loop-confined, lives as long as the pool's loop thread uses it; auto arena so close() need not race.
            scratch = Arena.ofAuto().allocate(SCRATCH_SIZE);
        }
        long left = leftover;
        while (left > 0) {
            long r = Syscalls.read(p.readFd, scratch, Math.min(left, SCRATCH_SIZE));
            if (r <= 0) {
                return false;
            }
            left -= r;
        }
        return Syscalls.readable(p.readFd) == 0;
    }

    /** Closes idle pipes now and pipes in use as they are released. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        Pipe p;
        while ((p = idle.pollFirst()) != null) {
            open--;
            metrics.pipeClosed(false);
            p.close();
        }
        metrics.poolClosed(max);
    }
}
