package dev.sluice.proxy;

import io.netty.channel.Channel;

/**
 * The splice path behind {@link BodyTransfer}: moves an exact byte count from one socket to another
 * without the bytes entering the JVM. One per event loop; null where splicing is off or unavailable.
 */
interface ZeroCopy {
    interface Callback {
        /** Runs on the loop once: bytes moved, and null or why the transfer stopped short. */
        void spliced(long moved, ProxyException cause);
    }

    /** Starts a transfer, or returns null when it cannot (the caller copies instead; counted). */
    Object start(Channel src, Channel dst, long count, Callback callback);

    /** Cancels a started transfer; its callback does not run. */
    void cancel(Object transfer);
}
