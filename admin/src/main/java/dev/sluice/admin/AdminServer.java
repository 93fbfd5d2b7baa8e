package dev.sluice.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The admin listener, on its own small event loop group so scrapes and cache operations never run on
 * a data-path loop. Serves {@code GET /health} (JSON), {@code GET /metrics} (Prometheus text) and the cache API
 * ({@link CacheApi}: {@code /cache/purge}, {@code /cache/entry}, {@code /cache/entries}, {@code /cache/stats}), warm
 * jobs ({@link WarmJobs}: {@code /cache/warm}, {@code /jobs}) and {@code POST /config/reload} ({@link ReloadApi}), with the data path's request-head and idle timeouts and head
 * limits ({@link Limits}, enforced by {@link AdminConnection}).
 *
 * <p>Every error is JSON, {@code {"error": "...", "status": n}}. With a token configured, every endpoint but
 * {@code /health} requires {@code Authorization: Bearer TOKEN} (else 401, before the path or method is looked at, so
 * a caller without the token learns nothing about either); the comparison takes the same time whatever the token
 * given ({@link #authorized}). The token is never logged.
 */
public final class AdminServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AdminServer.class.getName());

    private final EventLoopGroup group;
    private final Channel channel;

    private final WarmJobs jobs;

    private AdminServer(EventLoopGroup group, Channel channel, WarmJobs jobs) {
        this.group = group;
        this.channel = channel;
        this.jobs = jobs;
    }

    /** Largest request body the admin accepts (a purge is a small JSON object; a larger body gets 413 and a close). */
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
        return start(host, port, threads, limits, registry, health, "", null);
    }

    /**
     * @param token the bearer token every endpoint but /health requires; "" = none
     * @param cache the cache the /cache endpoints work on; null when there is none (they answer 404 saying so)
     */
    public static AdminServer start(String host, int port, int threads, Limits limits, PrometheusMeterRegistry registry,
            Supplier<String> health, String token, CacheAdmin cache) throws BindException, InterruptedException {
        return start(host, port, threads, limits, registry, health, token, cache, null);
    }

    /**
     * @param reload what {@code POST /config/reload} runs; null when there is none (the endpoint answers 404 saying so)
     */
    public static AdminServer start(String host, int port, int threads, Limits limits, PrometheusMeterRegistry registry,
            Supplier<String> health, String token, CacheAdmin cache, ConfigReload reload)
            throws BindException, InterruptedException {
        byte[] tokenDigest = token.isEmpty() ? null : sha256(token.getBytes(StandardCharsets.UTF_8));
        AdminMetrics metrics = cache == null ? null : new AdminMetrics(registry);
        CacheApi api = cache == null ? null : new CacheApi(cache, metrics);
        WarmJobs jobs = cache == null ? null : new WarmJobs(cache, metrics);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads,
                Thread.ofPlatform().name("sluice-admin-", 0).daemon().factory(), NioIoHandler.newFactory());
        try {
            ChannelFuture bound = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            AdminConnection conn = new AdminConnection(limits, MAX_BODY);
                            c.pipeline().addLast(conn.decoder(), new HttpResponseEncoder(), conn,
                                    new WarmUpload(conn, tokenDigest, jobs), conn.aggregator(),
                                    new Handler(conn, registry, health, tokenDigest, api, jobs, reload));
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
            return new AdminServer(group, ch, jobs);
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
        if (jobs != null) {
            jobs.cancelAll(); // their warm requests would fail against a proxy shutting down anyway
        }
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** An error reply: {@code {"error": message, "status": code}}. */
    static FullHttpResponse error(HttpResponseStatus status, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", message);
        body.put("status", status.code());
        return text(status, CacheApi.json(body) + "\n", "application/json");
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /**
     * Whether {@code req} carries the token. Both sides are hashed first and the digests compared with
     * {@link MessageDigest#isEqual} (constant time for equal lengths): the time taken says nothing about the token,
     * its length included.
     */
    static boolean authorized(io.netty.handler.codec.http.HttpRequest req, byte[] tokenDigest) {
        if (tokenDigest == null) {
            return true;
        }
        String auth = req.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = sha256(auth.substring(7).strip().getBytes(StandardCharsets.UTF_8));
        return MessageDigest.isEqual(tokenDigest, given);
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
        private final byte[] tokenDigest;
        private final CacheApi api;
        private final WarmJobs jobs;
        private final ConfigReload reload;

        Handler(AdminConnection conn, PrometheusMeterRegistry registry, Supplier<String> health, byte[] tokenDigest,
                CacheApi api, WarmJobs jobs, ConfigReload reload) {
            this.jobs = jobs;
            this.conn = conn;
            this.registry = registry;
            this.health = health;
            this.tokenDigest = tokenDigest;
            this.api = api;
            this.reload = reload;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            FullHttpResponse resp;
            try {
                resp = answer(req);
            } catch (ApiError e) {
                LOG.log(System.Logger.Level.DEBUG, "admin: {0} {1}: {2} {3}", req.method(),
                        ApiError.quote(new QueryStringDecoder(req.uri()).path()), e.status, e.getMessage());
                resp = error(HttpResponseStatus.valueOf(e.status), e.getMessage());
                if (e.status == 401) {
                    resp.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
                } else if (e.status == 405) {
                    resp.headers().set(HttpHeaderNames.ALLOW, allowed(new QueryStringDecoder(req.uri()).path()));
                }
            } catch (RuntimeException e) {
                // a bug: the request fails, the listener goes on
                LOG.log(System.Logger.Level.WARNING, "admin: " + req.method() + " failed", e);
                resp = error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
            }
            if (req.method().equals(HttpMethod.HEAD)) {
                resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, resp.status(), Unpooled.EMPTY_BUFFER,
                        resp.headers(), resp.trailingHeaders());
            }
            conn.respond(resp, HttpUtil.isKeepAlive(req));
        }

        private FullHttpResponse answer(FullHttpRequest req) throws ApiError {
            QueryStringDecoder uri = new QueryStringDecoder(req.uri());
            String path = uri.path();
            if (!path.equals("/health") && !authorized(req, tokenDigest)) {
                throw new ApiError(401, "a bearer token is required (Authorization: Bearer TOKEN)");
            }
            String allowed = allowed(path);
            if (allowed == null) {
                throw ApiError.notFound("not found: " + ApiError.quote(path));
            }
            if (!allowed.contains(req.method().name())) {
                throw new ApiError(405, req.method().name() + " not allowed on " + path + " (allowed: " + allowed + ")");
            }
            if ((path.startsWith("/cache/") || path.equals("/jobs") || path.startsWith("/jobs/")) && api == null) {
                throw ApiError.notFound("no cache here: no route caches, or cache.memory = 0");
            }
            if (path.startsWith("/jobs/")) {
                param(uri, null, false);
                WarmJob job = jobs.get(path.substring("/jobs/".length()));
                if (req.method().equals(HttpMethod.DELETE)) {
                    job.cancel();
                }
                return json(job.json());
            }
            return switch (path) {
                case "/health" -> text(HttpResponseStatus.OK, health.get() + "\n", "application/json");
                case "/metrics" -> text(HttpResponseStatus.OK, registry.scrape(), "text/plain; version=0.0.4; charset=utf-8");
                case "/cache/purge" -> json(api.purge(ByteBufUtil.getBytes(req.content())));
                case "/cache/entry" -> json(api.entry(param(uri, "url", true, "url")));
                case "/cache/entries" -> json(api.entries(param(uri, "prefix", false, "prefix", "limit", "after"),
                        param(uri, "limit", false), param(uri, "after", false)));
                case "/config/reload" -> {
                    param(uri, null, false);
                    if (reload == null) {
                        throw ApiError.notFound("no configuration reload here");
                    }
                    yield ReloadApi.reload(reload, ByteBufUtil.getBytes(req.content()));
                }
                case "/jobs" -> {
                    param(uri, null, false);
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("jobs", jobs.list());
                    yield json(out);
                }
                case "/cache/stats" -> {
                    param(uri, null, false);
                    yield json(api.stats());
                }
                default -> throw new IllegalStateException("allowed() knows " + path);
            };
        }

        /** The methods {@code path} takes, or null when there is no such endpoint. */
        private static String allowed(String path) {
            return switch (path) {
                case "/health", "/metrics", "/cache/entry", "/cache/entries", "/cache/stats" -> "GET, HEAD";
                case "/cache/purge", "/cache/warm", "/config/reload" -> "POST";
                case "/jobs" -> "GET, HEAD";
                default -> path.startsWith("/jobs/") && path.length() > 6 && path.indexOf('/', 6) < 0
                        ? "GET, HEAD, DELETE" : null;
            };
        }

        /**
         * The one value of query parameter {@code name} (null when absent and not required); with {@code known}
         * given, a parameter not among them is refused, and so is any parameter given twice.
         */
        private static String param(QueryStringDecoder uri, String name, boolean required, String... known)
                throws ApiError {
            Map<String, java.util.List<String>> params = uri.parameters();
            if (known.length > 0 || name == null) {
                for (var e : params.entrySet()) {
                    if (!java.util.List.of(known).contains(e.getKey())) {
                        throw ApiError.badRequest("unknown parameter '" + ApiError.quote(e.getKey()) + "'"
                                + (known.length == 0 ? " (this endpoint takes none)" : " (known: "
                                + String.join(", ", known) + ")"));
                    }
                    if (e.getValue().size() > 1) {
                        throw ApiError.badRequest("parameter '" + e.getKey() + "' given more than once");
                    }
                }
            }
            if (name == null) {
                return null;
            }
            java.util.List<String> v = params.get(name);
            if (v == null || v.isEmpty()) {
                if (required) {
                    throw ApiError.badRequest("the " + name + " parameter is required");
                }
                return null;
            }
            return v.get(0);
        }

        private static FullHttpResponse json(Map<String, Object> body) {
            return text(HttpResponseStatus.OK, CacheApi.json(body) + "\n", "application/json");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // a socket error (a reset, mostly); the decoder's and the limits' refusals never get here
            LOG.log(System.Logger.Level.DEBUG, "admin: closing {0}: {1}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
