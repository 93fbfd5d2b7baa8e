package dev.sluice.admin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code POST /cache/warm}, streamed: unlike the other endpoints (whose bodies are aggregated up to a small limit),
 * this one's body may be a list of millions of keys. The request's head creates the job; its body's chunks go, as
 * they arrive, into a small buffer read by the job's lister thread ({@link WarmList}); while more than
 * {@link #HIGH_WATER} bytes wait there the connection stops reading (auto-read off), and it reads again once the
 * lister brought it under {@link #LOW_WATER}. The lister in turn waits for the job's workers ({@link WarmJob#offer}),
 * so memory stays bounded however long the list. The reply is sent once the whole body was read: the job (running
 * already, since the first keys), or 400 when the body was not a list, or when no key of it was valid. A client
 * that goes away mid-body leaves the job running with the keys listed so far (its listing fails: "cut short").
 *
 * <p>Sits between {@link AdminConnection} and the aggregator: requests for other paths pass through untouched.
 */
final class WarmUpload extends ChannelInboundHandlerAdapter {
    static final int HIGH_WATER = 256 * 1024;
    static final int LOW_WATER = 64 * 1024;

    private final AdminConnection conn;
    private final byte[] tokenDigest;
    private final WarmJobs jobs;
    /** The body in progress, or null: the request is not a streamed warm. */
    private Body body;
    /** A refused upload's body is dropped until its end. */
    private boolean discarding;

    /** @param jobs null when there is no cache */
    WarmUpload(AdminConnection conn, byte[] tokenDigest, WarmJobs jobs) {
        this.conn = conn;
        this.tokenDigest = tokenDigest;
        this.jobs = jobs;
    }

    /** Whether {@code req} is a streamed warm (the admin connection lets its body past the size limit). */
    static boolean streamed(HttpRequest req) {
        return req.method().equals(HttpMethod.POST) && new QueryStringDecoder(req.uri()).path().equals("/cache/warm");
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req && streamed(req)) {
            start(ctx, req);
            if (msg instanceof HttpContent c) {
                content(ctx, c); // a full request: head and body in one message
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (msg instanceof HttpContent c && (body != null || discarding)) {
            content(ctx, c);
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private void start(ChannelHandlerContext ctx, HttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        try {
            if (!AdminServer.authorized(req, tokenDigest)) {
                throw new ApiError(401, "a bearer token is required (Authorization: Bearer TOKEN)");
            }
            if (jobs == null) {
                throw ApiError.notFound("no cache here: no route caches, or cache.memory = 0");
            }
            Map<String, String> given = new LinkedHashMap<>();
            for (var e : new QueryStringDecoder(req.uri()).parameters().entrySet()) {
                if (e.getValue().size() != 1) {
                    throw ApiError.badRequest("option '" + ApiError.quote(e.getKey()) + "' given more than once");
                }
                given.put(e.getKey(), e.getValue().get(0));
            }
            WarmOptions options = WarmOptions.of(given);
            if (HttpUtil.is100ContinueExpected(req)) {
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
            }
            body = new Body(ctx.channel(), options, given, keepAlive);
            Thread.ofVirtual().name("sluice-warm-list").start(body::list);
        } catch (ApiError e) {
            // the body is not wanted: answered now, and the connection ends after (dropping what the client sends)
            discarding = !(req instanceof LastHttpContent);
            FullHttpResponse resp = AdminServer.error(HttpResponseStatus.valueOf(e.status), e.getMessage());
            if (e.status == 401) {
                resp.headers().set("WWW-Authenticate", "Bearer");
            }
            conn.respond(resp, false);
        }
    }

    private void content(ChannelHandlerContext ctx, HttpContent c) {
        try {
            if (discarding) {
                discarding = !(c instanceof LastHttpContent);
                return;
            }
            Body b = body;
            ByteBuf buf = c.content();
            if (buf.isReadable()) {
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                if (b.add(bytes) > HIGH_WATER && ctx.channel().config().isAutoRead()) {
                    ctx.channel().config().setAutoRead(false);
                    conn.held(true); // we keep the client waiting, not it us: no idle timeout meanwhile
                }
            }
            if (c instanceof LastHttpContent) {
                body = null;
                b.end(null);
                conn.held(true); // until the reply, sent once the lister has read the whole body
            }
        } finally {
            ReferenceCountUtil.release(c);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (body != null) {
            body.end("the list was cut short: the client closed the connection before its end");
            body = null;
        }
        super.channelInactive(ctx);
    }

    /**
     * The body between the connection's loop (adding chunks) and the job's lister (reading them): an InputStream
     * that blocks for the next chunk, and turns auto-read back on when the buffer drained under the low water mark.
     */
    private final class Body extends InputStream {
        private final Channel channel;
        private final WarmOptions options;
        private final Map<String, String> query;
        private final boolean keepAlive;
        private WarmJob job;
        private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
        private long buffered;
        private boolean ended;
        private String cut;
        private byte[] current;
        private int pos;

        Body(Channel channel, WarmOptions options, Map<String, String> query, boolean keepAlive) {
            this.channel = channel;
            this.options = options;
            this.query = query;
            this.keepAlive = keepAlive;
        }

        /** On the loop: a chunk; returns the bytes buffered now. */
        synchronized long add(byte[] chunk) {
            chunks.addLast(chunk);
            buffered += chunk.length;
            notifyAll();
            return buffered;
        }

        synchronized boolean isCut() {
            return cut != null;
        }

        /** On the loop: the body ended, whole ({@code cut} null) or cut short. */
        synchronized void end(String cut) {
            ended = true;
            this.cut = cut;
            notifyAll();
        }

        @Override
        public int read() throws IOException {
            if (current == null || pos == current.length) {
                if (!next()) {
                    return -1;
                }
            }
            return current[pos++] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (current == null || pos == current.length) {
                if (!next()) {
                    return -1;
                }
            }
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        private boolean next() throws IOException {
            boolean resume;
            synchronized (this) {
                while (chunks.isEmpty() && !ended) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("interrupted");
                    }
                }
                if (chunks.isEmpty()) {
                    if (cut != null) {
                        throw new IOException(cut);
                    }
                    return false;
                }
                long before = buffered;
                current = chunks.removeFirst();
                pos = 0;
                buffered -= current.length;
                resume = before > LOW_WATER && buffered <= LOW_WATER;
            }
            if (resume) {
                try {
                    channel.eventLoop().execute(() -> {
                        if (body == this) {
                            conn.held(false); // reading again: the client's pauses count again
                        }
                        channel.config().setAutoRead(true);
                        channel.read();
                    });
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // the admin listener closed: the end of the body follows (the channel's close cuts it)
                }
            }
            return true;
        }

        /**
         * The lister: the job is created once the body's first byte tells what it is (a JSON object: an S3 prefix,
         * {@link WarmS3}; else a list), then the body goes into it, then the reply.
         */
        void list() {
            FullHttpResponse resp;
            try {
                java.io.PushbackInputStream in = new java.io.PushbackInputStream(this, 1);
                int first;
                do {
                    first = in.read();
                } while (first == ' ' || first == '\t' || first == '\r' || first == '\n');
                if (first >= 0) {
                    in.unread(first);
                }
                if (first == '{') {
                    byte[] object = in.readNBytes(AdminServer.MAX_BODY + 1);
                    if (object.length > AdminServer.MAX_BODY) {
                        throw new ApiError(413, "an S3 prefix's JSON object over " + AdminServer.MAX_BODY + " bytes");
                    }
                    job = WarmS3.start(object, query, jobs, jobs.admin());
                    resp = AdminServer.text(HttpResponseStatus.ACCEPTED, CacheApi.json(job.json()) + "\n",
                            "application/json");
                    reply(resp);
                    return;
                }
                job = jobs.create(options, "list");
                job.start();
                Thread.currentThread().setName("sluice-warm-" + job.id + "-list");
                WarmList.read(in, job);
                job.listingComplete();
                if (job.listed() > 0 && job.failedCount() == job.listed() && job.firstError() != null) {
                    // nothing valid at all: most likely a mistake worth an error rather than a failed job
                    String why = job.firstError();
                    jobs.drop(job);
                    resp = AdminServer.error(HttpResponseStatus.BAD_REQUEST, "no valid key in the list; the first: "
                            + why);
                } else if (job.listed() == 0) {
                    jobs.drop(job);
                    resp = AdminServer.error(HttpResponseStatus.BAD_REQUEST, "the list is empty");
                } else {
                    resp = AdminServer.text(HttpResponseStatus.ACCEPTED, CacheApi.json(job.json()) + "\n",
                            "application/json");
                }
            } catch (ApiError e) {
                drain();
                resp = AdminServer.error(HttpResponseStatus.valueOf(e.status), e.getMessage());
            } catch (WarmList.Malformed e) {
                job.listingFailed(e.getMessage());
                drain();
                resp = AdminServer.error(HttpResponseStatus.BAD_REQUEST, e.getMessage() + " (warm job " + job.id
                        + " failed)");
            } catch (IOException e) {
                if (job != null) {
                    job.listingFailed(e.getMessage());
                }
                if (isCut()) {
                    return; // the client is gone: nobody to answer
                }
                drain();
                resp = AdminServer.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "reading the list: " + e);
            } catch (InterruptedException e) {
                if (job != null) {
                    job.listingFailed("interrupted");
                }
                channel.close(); // nothing more will be read or answered on it
                return;
            } catch (RuntimeException e) {
                if (job != null) {
                    job.listingFailed("internal error: " + e);
                }
                drain();
                resp = AdminServer.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
            }
            reply(resp);
        }

        private void reply(FullHttpResponse resp) {
            try {
                channel.eventLoop().execute(() -> {
                    conn.held(false);
                    conn.respond(resp, keepAlive);
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                resp.release(); // the admin listener closed meanwhile
            }
        }

        /** Reads the rest of the body and drops it, so that the reply can be sent once it ended. */
        private void drain() {
            try {
                transferTo(java.io.OutputStream.nullOutputStream());
            } catch (IOException e) {
                // the client went away
            }
        }
    }
}
