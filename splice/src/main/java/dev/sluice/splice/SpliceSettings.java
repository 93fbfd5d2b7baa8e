package dev.sluice.splice;

/**
 * Per event loop splice settings.
 *
 * @param maxPipes       how many pipes one loop may hold (each running transfer or pump holds one); pipes are
 *                       created on demand up to this bound and reused. 1..4096, default 64.
 * @param pipeSize       requested pipe capacity in bytes (F_SETPIPE_SZ), clamped to
 *                       {@code /proc/sys/fs/pipe-max-size}; 4096..1 GiB, default 1 MiB. The kernel rounds it up to a
 *                       power-of-two number of pages.
 * @param batchMax       largest read batch of a counted socket splice: when its input runs dry, the transfer waits
 *                       for up to this many bytes (SO_RCVLOWAT) instead of waking for every arriving segment; 0
 *                       turns batching off. 0..64 MiB, default 256 KiB. Never more than the bytes still owed, and
 *                       never for pumps (L4 routes: a protocol message may be smaller).
 * @param batchDelayNanos how long batching may hold bytes back at the input's recent rate: the batch is the bytes
 *                       that arrive in this time (so a slow upstream is forwarded as it trickles in). 0 turns
 *                       batching off. Default 1 ms.
 */
public record SpliceSettings(int maxPipes, int pipeSize, int batchMax, long batchDelayNanos) {
    public static final int DEFAULT_MAX_PIPES = 64;
    public static final int DEFAULT_PIPE_SIZE = 1 << 20;
    public static final int DEFAULT_BATCH_MAX = 256 << 10;
    public static final long DEFAULT_BATCH_DELAY_NANOS = 1_000_000L;
    /**
     * Bounded by the 12 bits of io_uring user data that name a transfer slot: a loop has min(4096, 2 x maxPipes)
     * slots (socket and file splices hold a pipe and a slot, SEND_ZC sends only a slot).
     */
    public static final int MAX_PIPES_LIMIT = 4096;
    public static final int BATCH_MAX_LIMIT = 64 << 20;

    public SpliceSettings {
        if (maxPipes < 1 || maxPipes > MAX_PIPES_LIMIT) {
            throw new IllegalArgumentException(
                    String.format("maxPipes must be in [1, %d], was %d", MAX_PIPES_LIMIT, maxPipes));
        }
        if (pipeSize < 4096 || pipeSize > (1 << 30)) {
            throw new IllegalArgumentException(
                    String.format("pipeSize must be in [4096, 1073741824] bytes, was %d", pipeSize));
        }
        if (batchMax < 0 || batchMax > BATCH_MAX_LIMIT) {
            throw new IllegalArgumentException(
                    String.format("batchMax must be in [0, %d] bytes, was %d", BATCH_MAX_LIMIT, batchMax));
        }
        if (batchDelayNanos < 0 || batchDelayNanos > 1_000_000_000L) {
            throw new IllegalArgumentException(
                    String.format("batchDelayNanos must be in [0, 1 s], was %d", batchDelayNanos));
        }
    }

    public SpliceSettings(int maxPipes, int pipeSize) {
        this(maxPipes, pipeSize, DEFAULT_BATCH_MAX, DEFAULT_BATCH_DELAY_NANOS);
    }

    public static SpliceSettings defaults() {
        return new SpliceSettings(DEFAULT_MAX_PIPES, DEFAULT_PIPE_SIZE);
    }

    public SpliceSettings withMaxPipes(int maxPipes) {
        return new SpliceSettings(maxPipes, pipeSize, batchMax, batchDelayNanos);
    }

    public SpliceSettings withPipeSize(int pipeSize) {
        return new SpliceSettings(maxPipes, pipeSize, batchMax, batchDelayNanos);
    }

    /** Read batching for counted socket splices; {@code withBatch(0, 0)} turns it off. */
    public SpliceSettings withBatch(int batchMax, long batchDelayNanos) {
        return new SpliceSettings(maxPipes, pipeSize, batchMax, batchDelayNanos);
    }

    boolean batching() {
        return batchMax > 1 && batchDelayNanos > 0;
    }
}
