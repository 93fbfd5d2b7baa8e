package dev.sluice.proxy;

import dev.sluice.cache.StoredResponse;
import dev.sluice.conf.SluiceConfig.S3Credentials;
import dev.sluice.proxy.BodyTransfer.Framing;
import dev.sluice.shm.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.Locale;

/**
 * One request and its response, on the client connection's loop only, in {@link Phase phases}: the request is
 * checked and routed ({@link RequestCheck}), a server of the route's group is tried ({@link ServerAttempts}, a pooled
 * connection first), the rewritten request goes upstream ({@link HeaderRules}) with its body ({@link BodyTransfer}),
 * and the response head and body come back. Any step may end it early with a local reply ({@link Failure#reply}) or,
 * once a response is under way, by cutting it short. The end releases both connections: the client's kept, closed
 * in stages or aborted ({@link ClientEnd}), the upstream's pooled only when its framing left nothing in doubt.
 */
final class Exchange implements BodyTransfer.Owner, UpstreamConnection.User, ExtentSend.Owner, Fill.Waiter {
    private static final System.Logger LOG = System.getLogger(Exchange.class.getName());
    /** Interim (1xx) responses relayed before the final one; more is a broken or hostile upstream (502). */
    static final int MAX_INTERIM_RESPONSES = 16;
    /** Sends of a bodiless idempotent request on a fresh connection after a pooled one turned out closed. */
    private static final int MAX_ATTEMPTS = 3;

    /** Where the exchange stands. Phases only move forward; a local reply jumps to RESPONSE, any end to DONE. */
    enum Phase {
        /** The request head is checked and routed. */
        REQUEST,
        /** On a caching route: looked up, and possibly waiting for another request's fill of the same key. */
        CACHE,
        /** A server is picked, and a pooled connection taken or a new one made. */
        CONNECT,
        /** The request goes upstream (head, then any body) and the response head is awaited. */
        UPSTREAM,
        /** A response head went to the client (the upstream's, or a local reply); its body may still be flowing. */
        RESPONSE,
        /** Over: logged, connections released once no splice refers to them any more. */
        DONE
    }

    /** How the client connection goes on after this exchange; only ever moves to a harder end. */
    enum ClientEnd {
        /** Read the next request. */
        KEEP_ALIVE,
        /** The response was complete; close in stages (ClientConnection's lingering close). */
        CLOSE,
        /** The response was cut short: close at once, so that it never looks complete. */
        ABORT
    }

    final ClientConnection client;
    final HttpHead req;
    final AccessLog.Entry entry = new AccessLog.Entry();
    private final long startNanos;
    private final ProxyContext proxy;
    /** The configuration generation this exchange started on, kept to its end whatever a reload does meanwhile. */
    private final Generation gen;

    private Phase phase = Phase.REQUEST;
    private ClientEnd clientEnd = ClientEnd.CLOSE; // until the request says it keeps the connection

    private Router.Route route;
    /** The cache's part, on caching routes; else null. */
    private CachePhase cache;
    /**
     * A warm request ({@link CacheContext#WARM_FIELD}): a response from the cache is answered with its head alone,
     * once its body is stored.
     */
    boolean warm;
    /** Counted in {@link LoopContext#waitingHeads}: a client's request is upstream, its response head not yet here. */
    private boolean waitingHead;

    /** Keeps {@link LoopContext#waitingHeads} (the warm jobs' pressure signal) in step; warm requests are not counted. */
    private void waitingHead(boolean now) {
        if (now != waitingHead && !warm) {
            waitingHead = now;
            client.loop.waitingHeads += now ? 1 : -1;
        }
    }
    /** A response body sent from the cache's memory (a hit, or a fill this request leads or joined). */
    private ExtentSend cacheBody;
    private final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    private ServerAttempts servers;
    private UpstreamConnection up;
    private boolean upReused;
    private boolean upstreamReusable = true;

    private BodyFraming reqFraming = BodyFraming.NONE;
    private BodyTransfer reqBody;
    /** The request's last byte went upstream (the response timeout runs from then). */
    private boolean requestSent;
    private long requestSentNanos;
    /** The current window of the request body's minimum rate: when it began, and the body's progress then. */
    private long rateWindowStartNanos;
    private long rateWindowBytes;

    private HeadParser upParser;
    private ByteBuf upIn;
    private boolean responseBytesSeen;
    private HttpHead resp;
    private int interimResponses;
    private BodyTransfer respBody;
    private long lastProgressNanos;
    /** Splices being cancelled; the sockets are released only when this reaches zero. */
    private int pendingCancels;

    Exchange(ClientConnection client, HttpHead req, long startNanos) {
        this.client = client;
        this.req = req;
        this.proxy = client.proxy;
        this.gen = client.loop.generation;
        this.startNanos = startNanos;
        this.lastProgressNanos = System.nanoTime();
        entry.startMillis = System.currentTimeMillis() - (lastProgressNanos - startNanos) / 1_000_000;
        entry.client = client.clientIp;
        if (req != null) {
            entry.method = req.method;
            entry.target = req.target;
            entry.minorVersion = req.minorVersion;
            String host = req.get("Host");
            entry.host = host == null ? "" : host;
            String ua = req.get("User-Agent");
            entry.userAgent = ua == null ? "" : ua;
            String ref = req.get("Referer");
            entry.referer = ref == null ? "" : ref;
        }
    }

    private void clientEnds(ClientEnd end) {
        if (end.compareTo(clientEnd) > 0) {
            clientEnd = end;
        }
    }

    // ---------------------------------------------------------------- REQUEST

    void start() {
        RequestCheck check;
        try {
            check = RequestCheck.of(req, gen.maxRequestBody);
        } catch (ProxyException e) {
            reject(e);
            return;
        }
        reqFraming = check.framing();
        if (check.keepAlive()) {
            clientEnd = ClientEnd.KEEP_ALIVE;
        }
        if (req.count(CacheContext.WARM_FIELD) > 0) {
            // Sluice's own request for a key to be stored: known by the token, never passed on
            warm = proxy.cache != null && req.count(CacheContext.WARM_FIELD) == 1
                    && proxy.cache.warmToken(req.get(CacheContext.WARM_FIELD));
            req.remove(CacheContext.WARM_FIELD);
        }
        String host = Router.normalizeHost(req.get("Host"));
        route = gen.router(client.listener).match(host, check.path(), req);
        if (route == null) {
            reject(new ProxyException(Failure.NO_ROUTE, "no route for host '" + host + "' path '" + check.path() + "'"));
            return;
        }
        entry.route = route.name();
        if (route.cache() != null) {
            cache = new CachePhase(this, proxy.cache, route.cache());
            phase = Phase.CACHE;
            if (cache.lookup(reqFraming.framing() != Framing.NONE) != CachePhase.Next.FORWARD) {
                return; // answered from cache, or waiting for a fill (fillChanged)
            }
        }
        forward();
    }

    // ---------------------------------------------------------------- CACHE

    @Override
    public io.netty.channel.EventLoop loop() {
        return client.channel.eventLoop();
    }

    @Override
    public java.util.concurrent.atomic.AtomicBoolean armed() {
        return armed;
    }

    /** The fill this request waited for got its head (or failed): serve from it, or go upstream alone. */
    @Override
    public void fillChanged() {
        try {
            if (phase == Phase.CACHE && !cache.joinFill()) {
                forward();
            }
        } catch (RuntimeException e) {
            // runs as a task of this loop: an exception would otherwise leave the client waiting for good
            LOG.log(System.Logger.Level.ERROR, "joining a fill failed", e);
            fail(new ProxyException(Failure.BAD_GATEWAY, "joining a fill failed: " + e));
        }
    }

    /**
     * Answers from the cache: {@code r} as this request asks for it (a 200, 304, 206 or 416, {@link StoredAnswer})
     * with Age and Cache-Status, the body sent from {@code body} (on which a reference was taken for this send), still
     * being filled by {@code fill} unless that is null.
     */
    void serveStored(StoredResponse r, Extent body, Fill fill, String cacheStatus) {
        long now = proxy.cache.nowSeconds();
        StoredAnswer a = StoredAnswer.of(req, r, r.freshness().age(now), cacheStatus, now);
        entry.status = a.head.status;
        ByteBuf out = encodeForClient(a.head);
        phase = Phase.RESPONSE;
        cacheBody = new ExtentSend(client.channel, client.loop.sender, body, a.bounds, a.parts, fill,
                CacheSends.choose(proxy.config.cache().send(), a.bodyLength(), fill != null, client), gen.idleTimeoutNanos,
                proxy.cache.metrics, this);
        if (warm) {
            cacheBody.startWhenStored(out);
        } else {
            cacheBody.start(out, req.method.equals("HEAD"));
        }
    }

    @Override
    public void sendDone(ExtentSend s) {
        finish();
    }

    @Override
    public void sendFailed(ExtentSend s, ProxyException cause) {
        if (!s.headSent()) {
            reject(cause); // a warm request's fill failed before its head went: it gets the 502 and the reason
        } else {
            fail(cause);
        }
    }

    /** Via and the client's connection fields added, then encoded. */
    private ByteBuf encodeForClient(HttpHead h) {
        HeaderRules.addVia(h, h.minorVersion);
        if (clientEnd != ClientEnd.KEEP_ALIVE) {
            h.add("Connection", "close");
        } else if (req.minorVersion == 0) {
            h.add("Connection", "keep-alive");
        }
        ByteBuf out = h.encodeResponse(client.channel.alloc());
        entry.bytesOut += out.readableBytes();
        return out;
    }

    // ---------------------------------------------------------------- CONNECT

    /** Upstream: a server is picked and connected to. */
    private void forward() {
        if (cache != null) {
            cache.forwarding();
        }
        if (servers == null) {
            // the first time this request goes upstream; sent again (another server, a fresh connection, asked
            // again after a validation) it carries these fields once
            HeaderRules.forUpstream(req, reqFraming.transferEncoding(), client.clientIp);
        }
        servers = new ServerAttempts(client.loop.group(route.group()));
        phase = Phase.CONNECT;
        waitingHead(true);
        connect();
    }

    private void connect() {
        long now = System.nanoTime();
        int s = servers.next();
        if (s < 0) {
            fail(servers.exhausted());
            return;
        }
        UpstreamConnection pooled = servers.group.pollIdle(s, now);
        if (pooled != null) {
            attach(pooled, true);
            return;
        }
        UpstreamConnection conn = new UpstreamConnection(servers.group, s);
        servers.connect(client.channel.eventLoop(), proxy.transports, conn, new ReadSizes(), false)
                .addListener((ChannelFuture f) -> connected(conn, s, f));
    }

    private void connected(UpstreamConnection conn, int s, ChannelFuture f) {
        if (!f.isSuccess()) {
            servers.failed(s, f.cause(), "");
            if (phase == Phase.CONNECT) {
                connect(); // the next untried server, if any
            }
            return;
        }
        servers.group.group.connectOk.increment();
        if (phase != Phase.CONNECT) {
            // the exchange ended while we connected: keep the fresh connection for the next request
            conn.idle();
            servers.group.release(s, conn, System.nanoTime());
            return;
        }
        attach(conn, false);
    }

    // ---------------------------------------------------------------- UPSTREAM

    private void attach(UpstreamConnection c, boolean reused) {
        phase = Phase.UPSTREAM;
        up = c;
        upReused = reused;
        c.user = this;
        if (reused) {
            servers.group.group.reused.increment();
        }
        servers.group.active[servers.server()]++;
        entry.upstream = c.label();
        upParser = new HeadParser(false, gen.maxResponseHeaderSize, Integer.MAX_VALUE);

        ByteBuf head = upstreamHead(c);
        if (head == null) {
            return;
        }
        if (reqFraming.framing() == Framing.NONE) {
            up.channel.writeAndFlush(head);
            requestComplete();
        } else {
            reqBody = new BodyTransfer(client.channel, up.channel, reqFraming.framing(), reqFraming.length(), true, false,
                    gen.maxRequestBody, zeroCopy(), this);
            rateWindowStartNanos = System.nanoTime();
            reqBody.start(head, client.buffered());
            if (phase == Phase.DONE) {
                return; // the body bytes read with the head were refused (bad chunk framing, over the limit)
            }
        }
        ReadSizes.head(up.channel);
        up.channel.read(); // the response head; an upstream may answer before the body is complete
    }

    /**
     * The request head for the server of {@code c}: as forwarded, with the server's address as Host for an HTTP/1.0
     * request that had none, and signed where the group signs this method. Null when it cannot be signed (the
     * exchange failed with 502).
     */
    private ByteBuf upstreamHead(UpstreamConnection c) {
        String host = req.get("Host") == null ? c.label() : null;
        S3Credentials s3 = servers.group.group.config.s3();
        if (s3 == null || !s3.signs(req.method)) {
            return req.encodeRequest(client.channel.alloc(), host);
        }
        try {
            return S3Signing.encode(req, host, reqFraming.framing() != Framing.NONE, s3, client.channel.alloc());
        } catch (IllegalArgumentException e) {
            fail(new ProxyException(Failure.BAD_GATEWAY, "cannot sign the request for upstream group "
                    + servers.group.group.name + ": " + e.getMessage()));
            return null;
        }
    }

    /** The route's choice: copy, splice above the size threshold (auto), or splice whatever the size. */
    private ZeroCopy zeroCopy() {
        return switch (route.config().zeroCopy()) {
            case COPY -> null;
            case AUTO -> client.loop.zeroCopyAuto;
            case SPLICE -> client.loop.zeroCopyForced;
        };
    }

    boolean requestBodyOpen() {
        return reqBody != null && !reqBody.isFinished();
    }

    void requestBytes(ByteBuf buf) {
        lastProgressNanos = System.nanoTime();
        reqBody.offer(buf);
    }

    private void requestComplete() {
        requestSent = true;
        requestSentNanos = System.nanoTime();
    }

    @Override
    public void upstreamRead(ByteBuf buf) {
        lastProgressNanos = System.nanoTime();
        responseBytesSeen = true;
        if (phase == Phase.DONE) {
            buf.release();
            return;
        }
        if (respBody != null) {
            respBody.offer(buf);
            buf.release();
            return;
        }
        upIn = upIn == null ? buf : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(up.channel.alloc(), upIn, buf);
        while (true) {
            HttpHead h;
            try {
                h = upParser.parse(upIn);
            } catch (ProxyException e) {
                upstreamReusable = false;
                fail(e);
                return;
            }
            if (h == null) {
                up.channel.read();
                return;
            }
            if (h.status >= 200) {
                responseHead(h);
                return;
            }
            if (!interim(h)) {
                return;
            }
        }
    }

    /** A 1xx response: relayed to HTTP/1.1 clients as it comes; false when it ended the exchange. */
    private boolean interim(HttpHead h) {
        if (h.status == 101) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.BAD_GATEWAY, "upstream switched protocols though Upgrade was not forwarded"));
            return false;
        }
        if (++interimResponses > MAX_INTERIM_RESPONSES) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.BAD_GATEWAY, "upstream sent more than " + MAX_INTERIM_RESPONSES
                    + " interim (1xx) responses"));
            return false;
        }
        if (req.minorVersion >= 1) {
            // 100 Continue, 103 Early Hints
            HeaderRules.stripHopByHop(h);
            ByteBuf out = h.encodeResponse(client.channel.alloc());
            entry.bytesOut += out.readableBytes();
            client.channel.writeAndFlush(out);
        }
        return true;
    }

    // ---------------------------------------------------------------- RESPONSE

    private void responseHead(HttpHead h) {
        waitingHead(false);
        resp = h;
        entry.status = h.status;
        BodyFraming bf;
        try {
            bf = BodyFraming.ofResponse(h, req.method);
        } catch (ProxyException e) {
            upstreamReusable = false;
            fail(e);
            return;
        }
        Framing framing = bf.framing();
        if (framing == Framing.UNTIL_CLOSE || h.hasToken("Connection", "close")
                || (h.minorVersion == 0 && !h.hasToken("Connection", "keep-alive"))) {
            upstreamReusable = false;
        }
        boolean dechunk = framing == Framing.CHUNKED && req.minorVersion == 0;
        if (framing == Framing.UNTIL_CLOSE || dechunk) {
            clientEnds(ClientEnd.CLOSE);
        }
        HeaderRules.stripHopByHop(h);
        if (cache != null) {
            CachePhase.Validated v = cache.validated(h);
            if (v != CachePhase.Validated.CONTINUE) {
                // a 304 has no body: its connection goes back to the pool; an error's unread body closes it
                detachUpstream(upstreamReusable && framing == Framing.NONE && !upIn.isReadable());
                if (v == CachePhase.Validated.SERVED) {
                    cache.serveAnswer();
                } else {
                    askAgain();
                }
                return;
            }
            long length = framing == Framing.LENGTH ? bf.length() : framing == Framing.NONE ? 0 : -1;
            StoredResponse stored = cache.responseHead(h, length);
            if (stored != null) {
                storeWhileSending(stored);
                return;
            }
            if (cache.rangeAgain()) {
                // the whole object a Range miss asked for is not stored: its body stays unread, the range is asked for
                detachUpstream(upstreamReusable && framing == Framing.NONE && !upIn.isReadable());
                askAgain();
                return;
            }
        }
        if (framing == Framing.CHUNKED && !dechunk) {
            h.add("Transfer-Encoding", bf.transferEncoding());
        }
        ByteBuf out = encodeForClient(h);
        phase = Phase.RESPONSE;
        respBody = new BodyTransfer(up.channel, client.channel, framing, bf.length(), false, dechunk, 0, zeroCopy(), this);
        ByteBuf pre = upIn;
        upIn = null;
        respBody.start(out, pre);
        pre.release();
    }

    /** Lets the upstream connection go before the response is done with it (the cache answers instead). */
    private void detachUpstream(boolean reusable) {
        UpstreamConnection c = up;
        up = null;
        if (upIn != null) {
            upIn.release();
            upIn = null;
        }
        servers.group.done(servers.server(), c, reusable);
    }

    /** The cache's validation was answered for another representation: the request goes upstream again, as sent. */
    private void askAgain() {
        resp = null;
        requestSent = false;
        responseBytesSeen = false;
        interimResponses = 0;
        entry.status = 0;
        forward();
    }

    /**
     * The response is being stored: the fill takes the upstream connection over and receives the body into shared
     * memory, and this client is sent the body from there as it arrives, like any other waiting for it.
     */
    private void storeWhileSending(StoredResponse stored) {
        Fill f = cache.fill();
        UpstreamConnection c = up;
        up = null; // the fill's now, released by it
        ByteBuf pre = upIn;
        upIn = null;
        try {
            f.begin(stored, c, servers.group, servers.server(), upstreamReusable, pre, warm ? null : client.channel);
        } finally {
            pre.release();
        }
        serveStored(stored, stored.body(), f.state() == Fill.State.DONE ? null : f, cache.storingStatus(stored));
    }

    // ---------------------------------------------------------------- transfers' callbacks

    @Override
    public void bodyProgress(BodyTransfer t) {
        lastProgressNanos = System.nanoTime();
    }

    @Override
    public void bodyDone(BodyTransfer t) {
        if (t == reqBody) {
            requestComplete();
        } else if (t == respBody) {
            if (reqBody != null && !reqBody.isFinished()) {
                // answered before the upload ended: the rest of the body is unread, so neither side is
                // reusable (finish() stops the upload)
                clientEnds(ClientEnd.CLOSE);
                upstreamReusable = false;
            }
            finish();
        }
    }

    @Override
    public void bodyFailed(BodyTransfer t, ProxyException cause) {
        if (t == reqBody && cause.failure == Failure.BAD_GATEWAY && phase == Phase.UPSTREAM) {
            // the upstream stopped taking the body; it may still have answered (e.g. 413): wait for that,
            // and upstreamClosed() reports 502 if no response comes
            clientEnds(ClientEnd.CLOSE);
            upstreamReusable = false;
            entry.reason = cause.reason();
            return;
        }
        upstreamReusable = false;
        fail(cause);
    }

    // ---------------------------------------------------------------- events that end it

    @Override
    public void upstreamClosed(UpstreamConnection c) {
        if (phase == Phase.DONE || c != up) {
            return;
        }
        upstreamReusable = false;
        if (respBody != null) {
            respBody.sourceClosed();
            return;
        }
        if (!responseBytesSeen && upReused && reqFraming.framing() == Framing.NONE && servers.attempts() <= MAX_ATTEMPTS
                && (req.method.equals("GET") || req.method.equals("HEAD") || req.method.equals("OPTIONS"))) {
            // a pooled connection the server had closed meanwhile: safe to send again on a fresh one
            servers.group.active[servers.server()]--;
            up = null;
            servers.retryAll();
            if (upIn != null) {
                upIn.release();
                upIn = null;
            }
            phase = Phase.CONNECT;
            connect();
            return;
        }
        fail(new ProxyException(Failure.BAD_GATEWAY, responseBytesSeen
                ? "upstream closed the connection in the response head"
                : "upstream closed the connection without responding"));
    }

    void clientClosed() {
        if (phase == Phase.DONE) {
            return;
        }
        upstreamReusable = false;
        boolean responding = phase == Phase.RESPONSE;
        if (entry.status == 0 || !responding) {
            entry.status = 499; // client closed request (as nginx logs it)
        }
        if (entry.reason.isEmpty()) {
            entry.reason = "client closed the connection" + (responding ? " during the response" : "");
        }
        finish();
    }

    /** The loop's watchdog: the upstream response timeout, the request body's minimum rate, the idle timeout. */
    void tick(long now) {
        if (phase == Phase.DONE) {
            return;
        }
        Upstreams.Group g = servers == null ? null : servers.group.group;
        if (requestSent && resp == null && up != null && now - requestSentNanos > g.responseTimeoutNanos) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.GATEWAY_TIMEOUT, "upstream response timeout after "
                    + g.config.responseTimeout() + " (" + up.label() + ")"));
            return;
        }
        if (gen.minBodyBytesPerWindow > 0 && reqBody != null && !reqBody.isFinished()
                && now - rateWindowStartNanos >= gen.bodyRateWindowNanos) {
            long progress = reqBody.bytesSoFar();
            if (progress - rateWindowBytes < gen.minBodyBytesPerWindow) {
                // a trickling upload would hold its upstream connection for as long as the client likes
                upstreamReusable = false;
                var rate = gen.config.limits().minRequestBodyRate();
                fail(new ProxyException(Failure.REQUEST_TIMEOUT, "request body slower than " + rate.bytesPerSecond()
                        + " bytes/s: " + (progress - rateWindowBytes) + " bytes in the last " + rate.window()));
                return;
            }
            rateWindowStartNanos = now;
            rateWindowBytes = progress;
        }
        if (cacheBody != null && cacheBody.stalledNanos(now) > gen.idleTimeoutNanos) {
            fail(new ProxyException(Failure.GATEWAY_TIMEOUT, "idle timeout: the client took no bytes for "
                    + gen.config.timeouts().idle()));
            return;
        }
        boolean splicing = (reqBody != null && reqBody.isSplicing()) || (respBody != null && respBody.isSplicing());
        boolean waitingForHead = requestSent && resp == null;
        if (!splicing && !waitingForHead && up != null && now - lastProgressNanos > gen.idleTimeoutNanos) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.GATEWAY_TIMEOUT, "idle timeout: no bytes moved for " + gen.config.timeouts().idle()));
        }
    }

    /** Sluice is stopping: end now, closing the client (a response cut short must not look complete). */
    void stop() {
        if (phase == Phase.DONE) {
            return;
        }
        if (entry.reason.isEmpty()) {
            entry.reason = "Sluice stopped";
        }
        if (entry.status == 0) {
            entry.status = 503;
        }
        upstreamReusable = false;
        clientEnds(ClientEnd.ABORT);
        finish();
    }

    /**
     * Fails the exchange: a local reply if the client has seen nothing yet, otherwise a cut-short close. A response
     * cut short by the upstream's side (broken framing, a reset, a stall) is logged with the failure's status and
     * the status that went out in its reason, so the access log never shows such a response as a plain success.
     */
    private void fail(ProxyException e) {
        if (phase == Phase.DONE) {
            return;
        }
        if (phase != Phase.RESPONSE) {
            boolean upstreamFailed = phase == Phase.CONNECT || phase == Phase.UPSTREAM;
            if (upstreamFailed && cache != null && e.failure.status >= 502 && e.failure.status <= 504
                    && cache.standIn(0)) {
                entry.reason = e.reason() + " (a stale response stood in)";
                if (up != null) {
                    detachUpstream(false);
                }
                cache.serveAnswer();
                return;
            }
            if (upstreamFailed && cache != null && (e.failure == Failure.BAD_GATEWAY
                    || e.failure == Failure.SERVICE_UNAVAILABLE) && cache.unvalidatable()) {
                e = new ProxyException(Failure.GATEWAY_TIMEOUT, e.reason() + " (the stored response must be"
                        + " revalidated: must-revalidate)");
            }
            reject(e);
            return;
        }
        entry.reason = e.reason();
        if (e.failure.status >= 500 && resp != null) {
            entry.reason += " (response cut short after " + resp.status + " was sent)";
            entry.status = e.failure.status;
        }
        clientEnds(ClientEnd.ABORT);
        finish();
    }

    /** Sends a locally generated reply for {@code e} and ends the exchange. */
    void reject(ProxyException e) {
        if (phase == Phase.DONE) {
            return;
        }
        if (e.failure.closesConnection || req == null
                || (reqFraming.framing() != Framing.NONE && (reqBody == null || !reqBody.isFinished()))) {
            clientEnds(ClientEnd.CLOSE); // bad input, or a request body not read to its end
        }
        entry.status = e.failure.status;
        entry.reason = e.reason();
        proxy.metrics.localReplies.increment();
        LOG.log(System.Logger.Level.DEBUG, "{0} {1} from {2}: {3}", e.failure.status, e.failure.phrase, client.clientIp, e.reason());
        ByteBuf out = e.failure.reply(client.channel.alloc(), e.reason(), req != null && "HEAD".equals(req.method),
                clientEnd != ClientEnd.KEEP_ALIVE);
        entry.bytesOut += out.readableBytes();
        phase = Phase.RESPONSE;
        waitingHead(false);
        if (client.state != ClientConnection.State.CLOSED) {
            client.channel.writeAndFlush(out);
        } else {
            out.release();
        }
        finish();
    }

    // ---------------------------------------------------------------- DONE

    private void finish() {
        if (phase == Phase.DONE) {
            return;
        }
        phase = Phase.DONE;
        waitingHead(false);
        // A splice still in flight refers to the sockets' fds: nothing is closed or pooled until the
        // kernel has let go of them (a closed fd number is reused at once by the next accept).
        if (reqBody != null && reqBody.cancel(this::cancelled)) {
            pendingCancels++;
        }
        if (respBody != null && respBody.cancel(this::cancelled)) {
            pendingCancels++;
        }
        if (cacheBody != null && cacheBody.cancel(this::cancelled)) {
            pendingCancels++;
        }
        if (cache != null) {
            cache.ended(entry.reason);
        }
        if (pendingCancels == 0) {
            release();
        }
    }

    private void cancelled() {
        if (--pendingCancels == 0) {
            release();
        }
    }

    private void release() {
        if (upIn != null) {
            upIn.release();
            upIn = null;
        }
        if (up != null) {
            releaseUpstream();
        }
        entry.bytesIn += reqBody == null ? 0 : reqBody.bytes;
        entry.bytesOut += respBody == null ? 0 : respBody.bytes;
        entry.bytesOut += cacheBody == null ? 0 : cacheBody.sent;
        entry.durationMillis = (System.nanoTime() - startNanos) / 1e6;
        if (route != null) {
            ProxyMetrics.RouteMeters m = route.meters();
            m.request(entry.status);
            if (reqBody != null) {
                count(m.bytesIn, reqBody);
            }
            if (respBody != null) {
                count(m.bytesOut, respBody);
            }
            if (cache != null) {
                m.lookup(cache.result);
                entry.cache = cache.result.label;
            }
        }
        entry.mechanism = mechanismLabel();
        proxy.accessLog.log(entry);
        if (clientEnd == ClientEnd.ABORT) {
            client.abort();
        } else {
            client.exchangeDone(this, clientEnd == ClientEnd.CLOSE);
        }
    }

    /** Back to the pool when its framing left nothing in doubt, else closed. */
    private void releaseUpstream() {
        UpstreamConnection c = up;
        up = null;
        boolean reusable = upstreamReusable && clientEnd != ClientEnd.ABORT && requestSent && respBody != null
                && respBody.isFinished() && (reqBody == null || reqBody.isFinished()) && c.channel.isActive();
        if (reusable && (respBody.trailingBytes || bytesAfterBody(c) != 0)) {
            // The server sent more than its response announced: pooled, the surplus would be read as the
            // answer to the next request sent on this connection (a response desync). Close it instead.
            reusable = false;
            servers.group.group.surplus(c.label(), "bytes after the response to " + req.method + " " + req.target);
            if (entry.reason.isEmpty()) {
                entry.reason = "upstream sent bytes after the response (connection not reused)";
            }
        }
        servers.group.done(servers.server(), c, reusable);
    }

    /**
     * Bytes already queued on the upstream socket after a response whose body ended in a splice (which reads exactly
     * the body), or 0; -1 or -errno when the kernel cannot say. A copied body's surplus shows up in its last read
     * instead ({@code trailingBytes}).
     */
    private int bytesAfterBody(UpstreamConnection c) {
        return respBody.splicedBytes == 0 ? 0 : ZeroCopy.queuedBytes(client.loop.zeroCopyForced, c.channel);
    }

    private static void count(io.micrometer.core.instrument.Counter[] byMechanism, BodyTransfer t) {
        if (t.splicedBytes > 0) {
            byMechanism[ProxyMetrics.Mechanism.SPLICE.ordinal()].increment(t.splicedBytes);
        }
        long copied = t.bytes - t.splicedBytes;
        if (copied > 0) {
            byMechanism[ProxyMetrics.Mechanism.COPY.ordinal()].increment(copied);
        }
    }

    private String mechanismLabel() {
        if (cacheBody != null) {
            return cacheBody.mechanism().tag();
        }
        if (respBody == null && reqBody == null) {
            return "";
        }
        BodyTransfer t = respBody != null && respBody.bytes > 0 ? respBody : reqBody != null ? reqBody : respBody;
        return t.mechanism().label;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "Exchange[%s %s %s route=%s]", entry.method, entry.target, phase, entry.route);
    }
}
