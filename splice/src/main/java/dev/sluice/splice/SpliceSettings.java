package dev.sluice.splice;

/**
 * Per event loop splice settings.
 *
 * @param maxPipes how many pipes one loop may hold (each running transfer or pump holds one); pipes are created on
 *                 demand up to this bound and reused. 1..4096, default 64.
 * @param pipeSize requested pipe capacity in bytes (F_SETPIPE_SZ), clamped to {@code /proc/sys/fs/pipe-max-size};
 *                 4096..1 GiB, default 1 MiB. The kernel rounds it up to a power-of-two number of pages.
 */
public record SpliceSettings(int maxPipes, int pipeSize) {
    public static final int DEFAULT_MAX_PIPES = 64;
    public static final int DEFAULT_PIPE_SIZE = 1 << 20;
    /** Bounded by the 13 bits of io_uring user data that name a transfer slot. */
    public static final int MAX_PIPES_LIMIT = 4096;

    public SpliceSettings {
        if (maxPipes < 1 || maxPipes > MAX_PIPES_LIMIT) {
            throw new IllegalArgumentException(
                    String.format("maxPipes must be in [1, %d], was %d", MAX_PIPES_LIMIT, maxPipes));
        }
        if (pipeSize < 4096 || pipeSize > (1 << 30)) {
            throw new IllegalArgumentException(
                    String.format("pipeSize must be in [4096, 1073741824] bytes, was %d", pipeSize));
        }
    }

    public static SpliceSettings defaults() {
        return new SpliceSettings(DEFAULT_MAX_PIPES, DEFAULT_PIPE_SIZE);
    }

    public SpliceSettings withMaxPipes(int maxPipes) {
        return new SpliceSettings(maxPipes, pipeSize);
    }

    public SpliceSettings withPipeSize(int pipeSize) {
        return new SpliceSettings(maxPipes, pipeSize);
    }
}
