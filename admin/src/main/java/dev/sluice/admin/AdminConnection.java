package dev.sluice.admin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMessageDecoderResult;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One admin connection's protections, the same as the data path's: the request-head and idle timeouts and the head
 * and body limits. It sits between the request decoder (its {@link #decoder()}) and the aggregator (its
 * {@link #aggregator()}); the admin handler answers through {@link #respond}.
 *
 * <p>Deadlines, one at a time, all on the connection's event loop:
 * <ul>
 * <li>bytes of a request head that is not complete: {@code requestHead} from the head's first byte (not from the end
 * of the previous response, so a keep-alive connection may wait up to {@code idle} before its next request), then
 * {@code 408} and close;
 * <li>nothing received since the connection opened: {@code requestHead}, then a close without a reply;
 * <li>otherwise (between requests, in a body, or while a response is written): {@code idle} without a byte read or a
 * response completed, then a close.
 * </ul>
 * One timer per connection, set for the deadline as it was when armed. Activity (a read, a response written) only
 * moves the deadline later and does not touch the timer: when it fires before the current deadline it is armed
 * again. A change of state (a head starts or completes, the connection starts to close) may move it earlier; then
 * {@link #arm} replaces the timer.
 *
 * <p>Refusals (408, 413, 414, 431, 400) carry {@code Connection: close} and the reason as JSON ({@code {"error": ...,
 * "status": n}}, like every admin error), are logged at DEBUG,
 * and end the connection in stages like the data path (as does a response to a request that did not keep the
 * connection alive; RFC 9112 9.6): the response is flushed, the write side shut
 * (the client reads the response, then end of stream), and whatever the client still sends is dropped until it
 * closes, {@link #LINGER_QUIET_NANOS} pass without a byte, or {@link #LINGER_MAX_NANOS} pass in all. Closed at once,
 * the kernel would answer the client's unread bytes with a reset, which can cost the client the response.
 */
final class AdminConnection extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(AdminConnection.class.getName());

    static final long LINGER_QUIET_NANOS = 2_000_000_000L;
    static final long LINGER_MAX_NANOS = 10_000_000_000L;

    /**
     * Netty limits the whole request line, the target checks below the target alone: the line may exceed the
     * target's limit by this much (method, spaces, version) before the decoder gives up on it.
     */
    private static final int LINE_SLACK = 1024;

    private final AdminServer.Limits limits;
    private final int maxBody;
    private final long requestHeadNanos;
    private final long idleNanos;

    private ChannelHandlerContext ctx;
    private String client = "-";
    /** The decoder is between a request's head and its last content. */
    private boolean inRequest;
    /** When the first byte of a head not yet complete arrived; 0 while there is none. */
    private long headStartNanos;
    private long openedNanos;
    private long lastActivityNanos;
    private int requests;
    /** A response that ends the connection is out (or going out); nothing more is read or answered. */
    private boolean closing;
    /** See {@link #held}. */
    private boolean held;
    private long closingStartNanos;
    private ScheduledFuture<?> timer;
    private long timerDeadline;

    AdminConnection(AdminServer.Limits limits, int maxBody) {
        this.limits = limits;
        this.maxBody = maxBody;
        this.requestHeadNanos = limits.requestHead().toNanos();
        this.idleNanos = limits.idle().toNanos();
    }

    /** The request decoder, reporting the start and end of each head to this connection. */
    HttpRequestDecoder decoder() {
        HttpDecoderConfig config = new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxRequestTarget() + LINE_SLACK)
                .setMaxHeaderSize(limits.maxHeaderSize());
        return new Decoder(config);
    }

    /** The aggregator, refusing bodies over {@code maxBody} that came without a Content-Length (checked here). */
    HttpObjectAggregator aggregator() {
        return new HttpObjectAggregator(maxBody) {
            @Override
            protected void handleOversizedMessage(ChannelHandlerContext c, HttpMessage oversized) {
                refuse(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body over " + maxBody + " bytes");
            }
        };
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        client = ctx.channel().remoteAddress() instanceof InetSocketAddress a
                ? a.getAddress().getHostAddress() + ":" + a.getPort() : String.valueOf(ctx.channel().remoteAddress());
        long now = System.nanoTime();
        openedNanos = now;
        lastActivityNanos = now;
        arm();
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing || !ctx.channel().isActive()) {
            // after a refusal, or the decoder's report of a head cut short by the client's close
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest req) {
            String refusal = null;
            HttpResponseStatus status = null;
            DecoderResult result = req.decoderResult();
            if (result.isFailure()) {
                Throwable cause = result.cause();
                switch (cause) {
                    case TooLongHttpLineException _ -> {
                        status = HttpResponseStatus.REQUEST_URI_TOO_LONG;
                        refusal = "request line over " + (limits.maxRequestTarget() + LINE_SLACK) + " bytes";
                    }
                    case TooLongHttpHeaderException _ -> {
                        status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
                        refusal = "request head over " + limits.maxHeaderSize() + " bytes";
                    }
                    default -> {
                        status = HttpResponseStatus.BAD_REQUEST;
                        refusal = "malformed request head: " + cause.getMessage();
                    }
                }
            } else if (req.uri().length() > limits.maxRequestTarget()) {
                status = HttpResponseStatus.REQUEST_URI_TOO_LONG;
                refusal = "request target over " + limits.maxRequestTarget() + " bytes";
            } else if (result instanceof HttpMessageDecoderResult r && r.totalSize() > limits.maxHeaderSize()) {
                // the limit covers the request line and the header section together, as on the data path
                status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
                refusal = "request head over " + limits.maxHeaderSize() + " bytes";
            } else if (HttpUtil.getContentLength(req, -1L) > maxBody && !WarmUpload.streamed(req)) {
                // before the aggregator, which would answer 413 but keep the connection (or send 100 Continue)
                status = HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
                refusal = "request body over " + maxBody + " bytes";
            }
            if (status != null) {
                ReferenceCountUtil.release(msg);
                refuse(status, refusal);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * While held, the connection's timeouts do not run: a streamed warm list ({@link WarmUpload}) is read only as
     * fast as its keys are warmed, and answered once read whole; while its reading is paused, or its reply pending,
     * the waiting is the server's, not the client's. Otherwise the usual timeouts apply to an upload too.
     */
    void held(boolean held) {
        this.held = held;
        lastActivityNanos = System.nanoTime();
    }

    /** Sends a complete response; the connection stays for the next request or ends after it. */
    void respond(FullHttpResponse resp, boolean keepAlive) {
        if (closing) {
            resp.release();
            return;
        }
        HttpUtil.setKeepAlive(resp, keepAlive);
        ChannelFuture written = ctx.writeAndFlush(resp);
        if (!keepAlive) {
            finish(written);
            return;
        }
        written.addListener(f -> {
            if (f.isSuccess()) {
                lastActivityNanos = System.nanoTime(); // the idle time between requests counts from here
            } else {
                ctx.channel().close();
            }
        });
    }

    /** Refuses the request in progress: a reply with the reason, logged at DEBUG, then the connection ends. */
    void refuse(HttpResponseStatus status, String reason) {
        if (closing || !ctx.channel().isActive()) {
            return;
        }
        LOG.log(System.Logger.Level.DEBUG, "admin: refused {0}: {1} {2}", client, status.code(), reason);
        FullHttpResponse resp = AdminServer.error(status, reason);
        resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        finish(ctx.writeAndFlush(resp));
    }

    /** The connection ends once {@code written} is out: shut the write side, then linger (see the class comment). */
    private void finish(ChannelFuture written) {
        closing = true;
        long now = System.nanoTime();
        closingStartNanos = now;
        lastActivityNanos = now;
        arm();
        written.addListener(f -> {
            if (!f.isSuccess() || !ctx.channel().isActive()) {
                ctx.channel().close();
            } else if (ctx.channel() instanceof DuplexChannel duplex) {
                duplex.shutdownOutput().addListener(g -> {
                    if (!g.isSuccess()) {
                        ctx.channel().close();
                    }
                });
            } else {
                ctx.channel().close();
            }
        });
    }

    /** The current deadline (System.nanoTime scale). */
    private long deadline() {
        if (closing) {
            return Math.min(lastActivityNanos + LINGER_QUIET_NANOS, closingStartNanos + LINGER_MAX_NANOS);
        } else if (headStartNanos != 0) {
            return headStartNanos + requestHeadNanos;
        } else if (requests == 0) {
            return openedNanos + requestHeadNanos;
        }
        return lastActivityNanos + idleNanos;
    }

    /** Makes sure the timer fires no later than the current deadline. */
    private void arm() {
        long deadline = deadline();
        if (timer != null) {
            if (timerDeadline - deadline <= 0) {
                return; // fires in time, and checks again then
            }
            timer.cancel(false);
        }
        timerDeadline = deadline;
        timer = ctx.executor().schedule(this::expire, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void expire() {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        if (held && !closing) {
            // a warm list being read as fast as it is warmed: the client waits for us, not we for it
            lastActivityNanos = System.nanoTime();
            arm();
            return;
        }
        if (System.nanoTime() - deadline() < 0) {
            arm(); // activity moved the deadline on
            return;
        }
        if (closing) {
            ctx.channel().close();
        } else if (headStartNanos != 0) {
            refuse(HttpResponseStatus.REQUEST_TIMEOUT,
                    "request head not complete within " + format(limits.requestHead()));
        } else if (requests == 0) {
            LOG.log(System.Logger.Level.DEBUG, "admin: closing {0}: no request within {1}", client,
                    format(limits.requestHead()));
            ctx.channel().close();
        } else {
            LOG.log(System.Logger.Level.DEBUG, "admin: closing {0}: idle for {1}", client, format(limits.idle()));
            ctx.channel().close();
        }
    }

    private static String format(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    /**
     * Netty's request decoder, telling the connection when a head starts (bytes buffered while no request is in
     * progress: the first byte of the next head, also when it came in the same read as the end of the previous
     * request) and when it is complete (the decoder emits the request). After a refusal it drops all input.
     */
    private final class Decoder extends HttpRequestDecoder {
        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext c, ByteBuf in, List<Object> out) throws Exception {
            long now = System.nanoTime();
            lastActivityNanos = now;
            if (closing) {
                in.skipBytes(in.readableBytes());
                return;
            }
            if (!inRequest && headStartNanos == 0 && in.isReadable()) {
                headStartNanos = now;
                arm();
            }
            int from = out.size();
            super.decode(c, in, out);
            for (int i = from; i < out.size(); i++) {
                Object m = out.get(i);
                if (m instanceof HttpRequest) {
                    inRequest = true;
                    headStartNanos = 0;
                    requests++;
                }
                if (m instanceof LastHttpContent) {
                    inRequest = false;
                }
            }
            if (out.size() > from) {
                arm(); // from the head deadline to the idle one, which may be the earlier
            }
        }
    }
}
