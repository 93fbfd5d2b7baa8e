package dev.sluice.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.channel.unix.UnixChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code tcp-congestion} of one listener or upstream group: sets TCP_CONGESTION on the listening sockets
 * (accepted ones inherit it: tcp_ca_openreq_child keeps a congestion control set with setsockopt) or on each
 * upstream socket before it connects. It governs what this side sends: response bodies to
 * clients, request bodies to servers. A socket that refuses (EPERM: an algorithm outside
 * tcp_allowed_congestion_control without CAP_NET_ADMIN; NIO, which cannot set it) keeps the system's algorithm;
 * that is logged once per listener or group and counted in {@code sluice_tcp_congestion_failures_total{side, name}}.
 */
final class TcpCongestion {
    private static final System.Logger LOG = System.getLogger(TcpCongestion.class.getName());
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_CONGESTION = 13;

    private final String algorithm;
    private final byte[] name;
    /** Netty checks a raw option's value against its length: the name's, without a NUL (the kernel adds it). */
    private final RawUnixChannelOption option;
    private final String where;
    private final Counter failures;
    private final AtomicBoolean warned = new AtomicBoolean();

    private TcpCongestion(String algorithm, String side, String sideName, MeterRegistry registry) {
        this.algorithm = algorithm;
        this.name = algorithm.getBytes(StandardCharsets.US_ASCII);
        this.option = new RawUnixChannelOption("TCP_CONGESTION", IPPROTO_TCP, TCP_CONGESTION, name.length);
        this.where = side + " " + sideName;
        this.failures = Counter.builder("sluice.tcp.congestion.failures")
                .description("Sockets that kept the system's congestion control because tcp-congestion was refused")
                .tag("side", side).tag("name", sideName).register(registry);
    }

    /** Null when {@code algorithm} is "" (the system's): nothing to set. */
    static TcpCongestion forListener(String algorithm, String listener, MeterRegistry registry) {
        return algorithm.isEmpty() ? null : new TcpCongestion(algorithm, "listener", listener, registry);
    }

    static TcpCongestion forUpstream(String algorithm, String group, MeterRegistry registry) {
        return algorithm.isEmpty() ? null : new TcpCongestion(algorithm, "upstream", group, registry);
    }

    String algorithm() {
        return algorithm;
    }

    /** A handler that sets it on its channel when added (at registration: before bind or connect). */
    ChannelHandler applier() {
        return new ChannelHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                apply(ctx.channel());
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
    }

    /**
     * Sets it on a socket that has not sent yet: a listener before bind (the sockets it accepts inherit it), or a
     * client socket before connect. Never throws.
     */
    void apply(Channel ch) {
        if (!(ch instanceof UnixChannel)) {
            refused("the NIO transport cannot set it; io_uring and epoll can");
            return;
        }
        try {
            // a fresh buffer each time: Netty moves the position of the one it is given
            ch.config().setOption(option, ByteBuffer.wrap(name));
        } catch (RuntimeException e) { // ChannelException around the errno, or Netty's own checks
            Throwable c = e instanceof ChannelException && e.getCause() != null ? e.getCause() : e;
            refused(String.valueOf(c.getMessage()));
        }
    }

    private void refused(String why) {
        failures.increment();
        if (warned.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "{0}: tcp-congestion {1} not applied ({2}); its connections use the "
                    + "system''s congestion control (logged once, counted in sluice_tcp_congestion_failures_total)",
                    where, algorithm, why);
        }
    }
}
