package dev.sluice.splice;

/**
 * How {@link Splicer#send} moves a region of a shm segment to a socket; {@link #tag()} is the metrics tag.
 *
 * <p>Which is cheapest depends on the peer, the body size and the socket's congestion control
 * ({@link Splicer#congestionControl}): on loopback the kernel copies anyway, so a plain {@link #WRITE} of the mapping
 * is cheapest or close under bbr at every size, while under cubic {@link #SENDFILE} (one syscall per
 * send-buffer-full, no pipe of ours) wins at 64 KiB bodies and ties at 64 MiB (see the splice README); toward a real
 * NIC {@link #SEND_ZC}, {@link #SPLICE} and {@link #SENDFILE} avoid the copy. Measure per route.
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
    SPLICE("splice"),
    /**
     * sendfile(2) from the store's fd at the extent's 64-bit offset, on the loop thread on the non-blocking socket,
     * waiting for POLLOUT with an io_uring poll when the send buffer is full (no pipe, no io-wq). The kernel keeps
     * the file's pages in the socket buffers as for {@link #SPLICE}: the extent is marked spliced, so its store
     * punches the region out before reusing it, and released when the last sendfile returned. Unlike a splice the
     * output keeps Netty's POLLRDHUP armed: if Netty closes the channel (a peer's FIN without half-closure) the send
     * ends cancelled, as a WRITE's would fail.
     */
    SENDFILE("sendfile");

    private final String tag;

    SendMechanism(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
