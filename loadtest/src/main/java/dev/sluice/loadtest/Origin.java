package dev.sluice.loadtest;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic HTTP/1.1 origin for tests and benchmarks. Every path has its own infinite byte stream
 * ({@link Payload}); query parameters choose size, status, headers, framing, pacing and faults. See
 * {@code loadtest/README.md} for the request grammar.
 *
 * <pre>{@code
 * try (Origin origin = Origin.builder().name("o1").build()) {
 *     // GET http://127.0.0.1:<origin.port()>/any/path?size=64m&cc=max-age%3D60
 * }
 * }</pre>
 *
 * <p>Runs on its own event loop group (epoll if available, else NIO), started and bound by {@link Builder#build()}.
 */
public final class Origin implements AutoCloseable {
    private final String name;
    private final EventLoopGroup group;
    private final Channel server;
    private final InetSocketAddress address;
    private final BodyCache bodyCache;
    private final AtomicBoolean closed = new AtomicBoolean();
    final AtomicLong accepted = new AtomicLong();
    final AtomicInteger open = new AtomicInteger();
    final AtomicLong requests = new AtomicLong();
    final AtomicLong received = new AtomicLong();
    final AtomicLong bodyBytes = new AtomicLong();

    private Origin(Builder b) {
        this.name = b.name;
        this.bodyCache = new BodyCache(b.cacheBytes);
        this.group = Transport.group(b.threads, "origin-" + b.name);
        try {
            ServerBootstrap sb = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.serverChannel())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                            new WriteBufferWaterMark(256 * 1024, 1024 * 1024))
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new OriginHandler(Origin.this));
                        }
                    });
            this.server = sb.bind(b.host, b.port).syncUninterruptibly().channel();
            this.address = (InetSocketAddress) server.localAddress();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
            throw e;
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public int port() {
        return address.getPort();
    }

    public InetSocketAddress address() {
        return address;
    }

    public String name() {
        return name;
    }

    /** Total TCP connections accepted so far (keep-alive reuse leaves it unchanged). */
    public long connectionsAccepted() {
        return accepted.get();
    }

    /** Connections currently open. */
    public int openConnections() {
        return open.get();
    }

    /**
     * Requests whose response was completely handed to the socket. Counted before the last byte is written, so a
     * client that has read a whole response sees it counted. Faulted responses (reset, short, stall, close) and
     * 400s for malformed requests are not counted; see {@link #requestsReceived()}.
     */
    public long requests() {
        return requests.get();
    }

    /** Body bytes of the responses counted by {@link #requests()}. */
    public long bodyBytes() {
        return bodyBytes.get();
    }

    /** Request heads parsed, whatever became of them. */
    public long requestsReceived() {
        return received.get();
    }

    BodyCache bodyCache() {
        return bodyCache;
    }

    /** Bytes of generated payload memoized for reuse. */
    public long cachedBodyBytes() {
        return bodyCache.usedBytes();
    }

    /** Stops listening, closes every connection, stops the event loop group and waits for it. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
        bodyCache.close();
    }

    @Override
    public String toString() {
        return "Origin[" + name + " " + address.getHostString() + ":" + port() + "]";
    }

    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 0;
        private String name = "origin";
        private int threads = 1;
        private long cacheBytes = 64L << 20;

        private Builder() {}

        public Builder host(String host) {
            this.host = java.util.Objects.requireNonNull(host, "host");
            return this;
        }

        /** 0 (the default) binds an ephemeral port. */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
            this.port = port;
            return this;
        }

        /** Sent as {@code X-Origin} on every response. */
        public Builder name(String name) {
            if (name == null || name.isEmpty() || !name.chars().allMatch(c -> c > 32 && c < 127)) {
                throw new IllegalArgumentException("name must be non-empty visible ASCII: '" + name + "'");
            }
            this.name = name;
            return this;
        }

        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1: " + threads);
            }
            this.threads = threads;
            return this;
        }

        /** Bound on memoized generated body bytes (default 64 MiB; 0 generates every piece per send). */
        public Builder cacheBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("cacheBytes must be >= 0: " + bytes);
            }
            this.cacheBytes = bytes;
            return this;
        }

        /** Starts the origin; it is bound and accepting when this returns. */
        public Origin build() {
            return new Origin(this);
        }
    }
}
