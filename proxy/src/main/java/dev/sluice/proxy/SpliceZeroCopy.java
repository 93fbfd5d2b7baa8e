package dev.sluice.proxy;

import dev.sluice.splice.SpliceOutcome;
import dev.sluice.splice.SpliceTransfer;
import dev.sluice.splice.Splicer;
import io.netty.channel.Channel;

/** {@link ZeroCopy} over the loop's {@link Splicer} (pooled pipes, Sluice's own io_uring submissions). */
final class SpliceZeroCopy implements ZeroCopy {
    private final Splicer splicer;
    private final long minBytes;
    private final long idleTimeoutNanos;

    /**
     * @param minBytes remainders smaller than this are copied (auto mode); 1 splices everything (splice mode)
     */
    SpliceZeroCopy(Splicer splicer, long minBytes, long idleTimeoutNanos) {
        this.splicer = splicer;
        this.minBytes = Math.max(1, minBytes);
        this.idleTimeoutNanos = idleTimeoutNanos;
    }

    @Override
    public SpliceTransfer start(Channel src, Channel dst, long count, boolean watchDst, Callback callback) {
        if (count < minBytes || !Splicer.canSplice(src) || !Splicer.canSplice(dst)) {
            return null;
        }
        return splicer.transfer(src, dst, count, idleTimeoutNanos, watchDst,
                (moved, cause) -> callback.spliced(moved, SpliceOutcome.of(cause), cause));
    }

    @Override
    public SpliceTransfer pump(Channel src, Channel dst, Callback callback) {
        if (!Splicer.canSplice(src) || !Splicer.canSplice(dst)) {
            return null;
        }
        return splicer.pump(src, dst, 0, (moved, cause) -> callback.spliced(moved, SpliceOutcome.of(cause), cause));
    }

    @Override
    public int queuedBytes(Channel ch) {
        return splicer.queuedBytes(ch);
    }
}
