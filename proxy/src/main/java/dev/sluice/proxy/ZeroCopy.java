package dev.sluice.proxy;

import dev.sluice.splice.SpliceOutcome;
import dev.sluice.splice.SpliceTransfer;
import io.netty.channel.Channel;

/**
 * The proxy's one door to the zero-copy layer ({@code dev.sluice.splice}) for socket-to-socket bodies and L4
 * relays: start a splice, learn how it ended as a {@link SpliceOutcome}, and the two socket questions the proxy has
 * to ask that layer. One per event loop and mode ({@link LoopContext#zeroCopyAuto}, {@link LoopContext#zeroCopyForced});
 * null where bodies are copied. Cache sends and tees ({@link ExtentSend}, {@link Fill}) use the loop's sender.
 */
interface ZeroCopy {
    interface Callback {
        /**
         * Runs on the loop exactly once per started transfer, also after {@link SpliceTransfer#cancel}: bytes moved,
         * how it ended, and (unless {@link SpliceOutcome#COMPLETED}) the cause, for its message.
         * {@link SpliceOutcome#REFUSED} means nothing moved and nothing was lost: copy instead.
         */
        void spliced(long moved, SpliceOutcome outcome, Throwable cause);
    }

    /**
     * Starts a transfer of exactly {@code count} bytes, or returns null when it cannot (the caller copies instead;
     * counted). With {@code watchDst}, a transfer that stalls watches {@code dst} for its peer leaving and then ends
     * {@link SpliceOutcome#OUTPUT_CLOSED} (a response body's client gone while the origin stalls).
     */
    SpliceTransfer start(Channel src, Channel dst, long count, boolean watchDst, Callback callback);

    /**
     * Splices {@code src} to {@code dst} until {@code src}'s EOF, then shuts {@code dst}'s output down (an L4 relay's
     * direction; no idle timeout of its own: the relay judges idle for the pair). Null when it cannot (counted).
     */
    SpliceTransfer pump(Channel src, Channel dst, Callback callback);

    /**
     * Bytes queued for reading on {@code ch} (after a spliced body: what the server sent beyond it), 0 when
     * {@code zeroCopy} is null; -1 or -errno when the kernel cannot say.
     */
    static int queuedBytes(ZeroCopy zeroCopy, Channel ch) {
        return zeroCopy == null ? 0 : zeroCopy.queuedBytes(ch);
    }

    int queuedBytes(Channel ch);

    /**
     * Declares that the owner of {@code ch} keeps a read armed whenever it must see the peer leave (a pooled upstream
     * connection), so splices on it need not hand Netty's hang-up watch back afterwards. Call on the channel's loop.
     */
    static void ownerWatchesHangup(Channel ch) {
        dev.sluice.splice.Splicer.leaveRdHupOff(ch);
    }
}
