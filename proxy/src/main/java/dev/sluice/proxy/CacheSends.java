package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.CacheSend;
import dev.sluice.splice.SendMechanism;

/**
 * How a body goes from the cache's memory to a client: the operator's choice ({@code cache.send}), or with {@code
 * auto} the cheapest by the body's size and the client socket's congestion control, as measured (README, "Sending
 * hits"). The congestion control matters because it decides how the kernel paces a socket: measured on loopback,
 * sendfile from the memfd costs less CPU per byte than a write under cubic but more under bbr.
 */
final class CacheSends {
    /** From this size on, a hit under a congestion control other than bbr is spliced from the memfd. */
    static final long LARGE = 1L << 20;

    private CacheSends() {}

    /**
     * @param filling the body is still being received (a miss and the requests collapsed onto it)
     */
    static SendMechanism choose(CacheSend setting, long length, boolean filling, ClientConnection client) {
        return switch (setting) {
            case WRITE -> SendMechanism.WRITE;
            case SEND_ZC -> SendMechanism.SEND_ZC;
            case SPLICE -> SendMechanism.SPLICE;
            case SENDFILE -> SendMechanism.SENDFILE;
            case AUTO -> filling ? SendMechanism.WRITE : auto(length, client.congestion());
        };
    }

    /**
     * A hit: a write of the mapping, but from 1 MiB on under a congestion control other than bbr a splice from the
     * memfd. A body being filled is always written: pages sendfile or splice hand to the kernel must be punched out
     * of the store before their region is reused, and faulted in again by the next fill, which cost recv+sendfile
     * 3-5x the CPU of recv+write per GiB (FillBench, splice/README.md); a hit pays that once per fill, spread over
     * its hits. Measured through Sluice (loadtest/cache-send.sh --full, README "Sending hits and storing misses"):
     * under bbr a write is cheapest or tied at every size; under cubic a write at 1 and 64 KiB, a splice at 1 MiB
     * (0.101 against the write's 0.126 s/GiB) and 64 MiB (0.093 against 0.127).
     */
    static SendMechanism auto(long length, String congestion) {
        if (length >= LARGE && congestion != null && !congestion.equals("bbr")) {
            return SendMechanism.SPLICE;
        }
        return SendMechanism.WRITE;
    }
}
