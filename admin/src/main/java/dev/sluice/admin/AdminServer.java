package dev.sluice.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * The admin listener, on its own small event loop group so scrapes and cache operations never run on
 * a data-path loop. Serves {@code GET /health} (JSON) and {@code GET /metrics} (Prometheus text), with the data
 * path's request-head and idle timeouts and head limits ({@link Limits}, enforced by {@link AdminConnection}).
 */
public final class AdminServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AdminServer.class.getName());

    private final EventLoopGroup group;
    private final Channel channel;

    private AdminServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Largest request body the admin accepts (it serves GETs; a larger body gets 413 and a close). */
    static final int MAX_BODY = 64 * 1024;

    /**
     * The data path's protections, applied to the admin listener too (see {@link AdminConnection}): the
     * {@code timeouts.request-head} and {@code timeouts.idle} timeouts and the {@code limits.max-request-target} and
     * {@code limits.max-header-size} limits.
     */
    public record Limits(Duration requestHead, Duration idle, int maxRequestTarget, int maxHeaderSize) {
        public Limits {
            if (requestHead.isNegative() || requestHead.isZero() || idle.isNegative() || idle.isZero()) {
                throw new IllegalArgumentException("admin timeouts must be positive: " + requestHead + ", " + idle);
            }
            if (maxRequestTarget <= 0 || maxHeaderSize <= 0) {
                throw new IllegalArgumentException("admin limits must be positive: " + maxRequestTarget + ", "
                        + maxHeaderSize);
            }
        }
    }

    /**
     * @param health returns the body of {@code /health} (a JSON object) and must be thread-safe
     * @throws BindException naming the address, when it cannot be bound (in use, not local, not resolved)
     */
    public static AdminServer start(String host, int port, int threads, Limits limits, PrometheusMeterRegistry registry,
            Supplier<String> health) throws BindException, InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads,
                Thread.ofPlatform().name("sluice-admin-", 0).daemon().factory(), NioIoHandler.newFactory());
        try {
            ChannelFuture bound = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            AdminConnection conn = new AdminConnection(limits, MAX_BODY);
                            c.pipeline().addLast(conn.decoder(), new HttpResponseEncoder(), conn, conn.aggregator(),
                                    new Handler(conn, registry, health));
                        }
                    }).bind(host, port).await();
            if (!bound.isSuccess()) {
                Throwable cause = bound.cause();
                String why = cause.getMessage() != null ? cause.getMessage() : cause.toString();
                String address = host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
                BindException e = new BindException("admin listener " + address + ": " + why);
                e.initCause(cause);
                throw e;
            }
            Channel ch = bound.channel();
            LOG.log(System.Logger.Level.INFO, "admin listening on {0}", ch.localAddress());
            return new AdminServer(group, ch);
        } catch (BindException | RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
            throw e;
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    static FullHttpResponse text(HttpResponseStatus status, String body, String type) {
        ByteBuf buf = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, buf);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, buf.readableBytes());
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        return r;
    }

    /** Answers the requests that {@link AdminConnection} let through (complete, within the limits). */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final AdminConnection conn;
        private final PrometheusMeterRegistry registry;
        private final Supplier<String> health;

        Handler(AdminConnection conn, PrometheusMeterRegistry registry, Supplier<String> health) {
            this.conn = conn;
            this.registry = registry;
            this.health = health;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = new QueryStringDecoder(req.uri()).path();
            FullHttpResponse resp;
            if (!req.method().equals(HttpMethod.GET) && !req.method().equals(HttpMethod.HEAD)) {
                resp = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET here\n", "text/plain");
            } else {
                resp = switch (path) {
                    case "/health" -> text(HttpResponseStatus.OK, health.get() + "\n", "application/json");
                    case "/metrics" -> text(HttpResponseStatus.OK, registry.scrape(),
                            "text/plain; version=0.0.4; charset=utf-8");
                    default -> text(HttpResponseStatus.NOT_FOUND, "not found: " + path + "\n", "text/plain");
                };
            }
            if (req.method().equals(HttpMethod.HEAD)) {
                resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, resp.status(), Unpooled.EMPTY_BUFFER,
                        resp.headers(), resp.trailingHeaders());
            }
            conn.respond(resp, HttpUtil.isKeepAlive(req));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // a socket error (a reset, mostly); the decoder's and the limits' refusals never get here
            LOG.log(System.Logger.Level.DEBUG, "admin: closing {0}: {1}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
