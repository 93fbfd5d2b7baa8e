package dev.sluice.splice;

import io.netty.channel.Channel;

/**
 * What one {@link Transfer} moves: from which source, to which output, how much, and who hears how it ended. What
 * varies between transfers is the {@link Source}; everything else is the same for every kind.
 *
 * @param count bytes to move, or {@link #UNTIL_EOF} for a pump (socket sources only)
 * @param idleTimeoutNanos fail when no byte moved for this long; 0: never
 * @param watchOutput when stalled, watch the output for its peer hanging up ({@link OutputClosedException})
 * @param onDone runs once the source may be reused (after the last SEND_ZC notification), or null
 */
record TransferSpec(Source source, Channel out, ChannelLease outLease, long count, long idleTimeoutNanos,
                    boolean watchOutput, SpliceCallback callback, Runnable onDone) {
    static final long UNTIL_EOF = -1;

    TransferSpec {
        assert count >= 0 || (count == UNTIL_EOF && source instanceof Source.Socket) : "only a socket is pumped";
        assert !watchOutput || source instanceof Source.Socket : "only a socket source stalls on its input";
    }

    boolean pump() {
        return count == UNTIL_EOF;
    }

    /** Where the bytes come from. */
    sealed interface Source {
        /** A socket, spliced through a pipe; the only source that can run dry, be batched or be pumped. */
        record Socket(Channel channel, ChannelLease lease) implements Source {
        }

        /** A region of a file (the store's memfd) from {@code offset}, spliced through a pipe at explicit offsets. */
        record StoreFile(int fd, long offset) implements Source {
        }

        /** Native memory (the store's mapping) at {@code address}, sent with SEND_ZC: no pipe. */
        record Memory(long address) implements Source {
        }
    }
}
