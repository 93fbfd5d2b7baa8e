package dev.sluice.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.RecvByteBufAllocator;

/**
 * The servers of an upstream group tried for one HTTP exchange or L4 relay: the balancer's pick among those not
 * tried yet, and after a failed connect the next one, until none is left. Connections are made on the loop of the
 * client that needs them (shared-nothing: the connection belongs to that loop and its pool). Failures are counted
 * and logged by the group, at most once per 10 s.
 */
final class ServerAttempts {
    final Upstreams.LoopGroup group;
    /** A bit per server index already tried (servers past 64 may be tried again). */
    private long tried;
    private int attempts;
    private int server = -1;
    private ProxyException lastFailure;

    ServerAttempts(Upstreams.LoopGroup group) {
        this.group = group;
    }

    /** The next server to try (also {@link #server()} from now on), or -1 when every server was tried. */
    int next() {
        int s = group.pick(tried);
        if (s < 0) {
            return -1;
        }
        server = s;
        if (s < 64) {
            tried |= 1L << s;
        }
        attempts++;
        return s;
    }

    /** The server of the last {@link #next()}. */
    int server() {
        return server;
    }

    String label() {
        return group.group.labels[server];
    }

    /** Servers tried so far, counting a server again after {@link #retryAll}. */
    int attempts() {
        return attempts;
    }

    /** Every server may be tried again (a pooled connection turned out closed: a fresh one is worth a try). */
    void retryAll() {
        tried = 0;
    }

    /**
     * Connects to {@link #server()} from {@code loop}, reads off (the caller arms each read), TCP_NODELAY, the
     * group's connect timeout.
     */
    ChannelFuture connect(EventLoop loop, Transports transports, ChannelHandler handler, RecvByteBufAllocator reads,
            boolean halfClosure) {
        return new Bootstrap().group(loop)
                .channel(transports.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.RCVBUF_ALLOCATOR, reads)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, group.group.connectTimeoutMillis))
                .handler(handler)
                .connect(group.group.addresses[server]);
    }

    /** A connect to {@code s} failed: counted, logged (rate-limited) with {@code context}, and kept as the reason. */
    ProxyException failed(int s, Throwable cause, String context) {
        ProxyException e = Failure.fromUpstream(cause, group.group.labels[s]);
        group.group.connectFailed(cause, e.reason() + context);
        lastFailure = e;
        return e;
    }

    /** Why no server is left: the last connect failure, or 503 when there was none. */
    ProxyException exhausted() {
        return lastFailure != null ? lastFailure
                : new ProxyException(Failure.SERVICE_UNAVAILABLE, "no server of upstream '" + group.group.name + "' left to try");
    }
}
