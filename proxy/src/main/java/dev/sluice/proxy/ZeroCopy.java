package dev.sluice.proxy;

import io.netty.channel.Channel;

/**
 * The splice path behind {@link BodyTransfer}: moves an exact byte count from one socket to another
 * without the bytes entering the JVM. One per event loop and mode; null where bodies are copied.
 */
interface ZeroCopy {
    interface Callback {
        /**
         * Runs on the loop exactly once per started transfer, also after {@link #cancel}: bytes
         * moved, and null or why the transfer stopped short.
         */
        void spliced(long moved, Throwable cause);
    }

    /**
     * Starts a transfer, or returns null when it cannot (the caller copies instead; counted). With
     * {@code watchDst}, a transfer that stalls watches {@code dst} for its peer leaving and then fails with
     * {@link dev.sluice.splice.OutputClosedException} (a response body's client gone while the origin stalls).
     */
    Object start(Channel src, Channel dst, long count, boolean watchDst, Callback callback);

    /** Cancels a started transfer; its callback still runs, once nothing refers to the sockets any more. */
    void cancel(Object transfer);

    /** Bytes a started transfer has moved so far (before its callback reports the total). */
    long moved(Object transfer);
}
