package dev.sluice.splice;

/**
 * How {@link Splicer#send} moves a region of a shm segment to a socket; {@link #tag()} is the metrics tag.
 *
 * <p>Which is cheapest depends on the peer: on loopback the kernel copies anyway, so a plain
 * {@link #WRITE} of the mapping is cheapest there; toward a real NIC {@link #SEND_ZC} or {@link #SPLICE} avoid the
 * copy. Measure per route.
 */
public enum SendMechanism {
    /**
     * A Netty write of a ByteBuf that wraps the mapping (no heap copy; the kernel copies into the socket). The
     * extent reference is released when Netty releases the buffer, which is also right if the channel itself turns
     * large writes into SEND_ZC (IO_URING_WRITE_ZERO_COPY_THRESHOLD).
     */
    WRITE("write"),
    /**
     * IORING_OP_SEND_ZC from the mapping, submitted by the splicer; done (and the extent released) at the kernel's
     * notification CQE, not at the send's completion.
     */
    SEND_ZC("send_zc"),
    /**
     * memfd -> pooled pipe -> socket with IORING_OP_SPLICE at explicit 64-bit file offsets (Netty's FileRegion
     * breaks past 2 GiB and uses 64 KiB pipes). The extent is marked spliced, so its store punches the region out
     * before reusing it.
     */
    SPLICE("splice");

    private final String tag;

    SendMechanism(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
