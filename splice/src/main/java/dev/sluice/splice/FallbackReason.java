package dev.sluice.splice;

/**
 * Why a transfer was not spliced and the caller must copy (for {@link Splicer#send}: why the send was a plain
 * write instead of the mechanism asked for). {@link #tag()} is the stable lowercase name used in
 * metrics tags and logs alike.
 */
public enum FallbackReason {
    /** io_uring, its splice opcode, pipes or the Netty internals this module needs are missing on this host. */
    UNAVAILABLE("unavailable"),
    /** All {@link SpliceSettings#maxPipes()} pipes of the loop are in use. */
    POOL_EXHAUSTED("pool_exhausted"),
    /** The kernel refused pipe memory (EPERM/ENOMEM from pipe2 or F_SETPIPE_SZ: per-user pipe pages). */
    PIPE_LIMIT("pipe_limit"),
    /** No file descriptor for a new pipe (EMFILE/ENFILE). */
    FD_LIMIT("fd_limit"),
    /** Creating or sizing a pipe failed for another reason. */
    PIPE_ERROR("pipe_error"),
    /** A channel is inactive, uses AUTO_READ or buffer rings, or its fd could not be made non-blocking. */
    CHANNEL("channel"),
    /** The input peer already half-closed and Netty is reading the rest itself. */
    PEER_CLOSING("peer_closing"),
    /** The {@link Splicer} was closed. */
    CLOSED("closed"),
    /**
     * {@link Splicer#send}: the extent's store has no fd to splice or sendfile from or no native mapping to SEND_ZC
     * from (heap store), or SEND_ZC is not supported; the send is a plain write instead.
     */
    NO_ZERO_COPY_SOURCE("no_zero_copy_source");

    private final String tag;

    FallbackReason(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
