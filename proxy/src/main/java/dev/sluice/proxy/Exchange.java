package dev.sluice.proxy;

import dev.sluice.proxy.BodyTransfer.Framing;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One request and its response: validation, routing, an upstream connection from the loop's pool,
 * header rewriting, and the two body transfers. Lives on the client connection's loop only.
 */
final class Exchange implements BodyTransfer.Owner {
    private static final System.Logger LOG = System.getLogger(Exchange.class.getName());
    private static final String VIA = "sluice";
    /** Interim (1xx) responses relayed before the final one; more is a broken or hostile upstream (502). */
    static final int MAX_INTERIM_RESPONSES = 16;

    final ClientConnection client;
    final HttpHead req;
    final AccessLog.Entry entry = new AccessLog.Entry();
    private final long startNanos;
    private final ProxyContext proxy;

    private Router.Route route;
    private Upstreams.LoopGroup group;
    private int server = -1;
    private long tried;
    private int attempts;
    private ProxyException lastConnectFailure;
    private UpstreamConnection up;
    private boolean upReused;
    private boolean upstreamReusable = true;

    private Framing reqFraming = Framing.NONE;
    private long reqLength;
    private String reqTransferEncoding;
    private BodyTransfer reqBody;
    /** The current window of the request body's minimum rate: when it began, and the body's progress then. */
    private long rateWindowStartNanos;
    private long rateWindowBytes;
    private boolean requestSent;
    private long requestSentNanos;
    private boolean clientKeepAlive;
    private boolean closeClient;

    private HeadParser upParser;
    private ByteBuf upIn;
    private boolean responseBytesSeen;
    private HttpHead resp;
    private int interimResponses;
    private boolean responseStarted;
    private BodyTransfer respBody;
    private long lastProgressNanos;
    private boolean done;
    /** Close the client at once (a response cut short) instead of ending the exchange normally. */
    private boolean abortClient;
    /** Splices being cancelled; the sockets are released only when this reaches zero. */
    private int pendingCancels;

    Exchange(ClientConnection client, HttpHead req, long startNanos) {
        this.client = client;
        this.req = req;
        this.proxy = client.proxy;
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

    // ---------------------------------------------------------------- request side

    void start() {
        String path;
        try {
            path = validate();
        } catch (ProxyException e) {
            reject(e);
            return;
        }
        String host = Router.normalizeHost(req.get("Host"));
        route = client.router.match(host, path, req);
        if (route == null) {
            reject(new ProxyException(Failure.NO_ROUTE, "no route for host '" + host + "' path '" + path + "'"));
            return;
        }
        entry.route = route.name();
        group = client.loop.group(route.group());
        connect();
    }

    /** Checks the request (RFC 9112 framing rules included) and returns its path for routing. */
    private String validate() throws ProxyException {
        switch (req.method) {
            case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH" -> { }
            default -> throw new ProxyException(Failure.NOT_IMPLEMENTED, "method " + req.method + " not implemented");
        }
        int hosts = req.count("Host");
        if (hosts > 1) {
            throw new ProxyException(Failure.BAD_REQUEST, "more than one Host header");
        }
        String path;
        String target = req.target;
        if (target.startsWith("/")) {
            path = target;
        } else if (target.regionMatches(true, 0, "http://", 0, 7) || target.regionMatches(true, 0, "https://", 0, 8)) {
            // absolute-form: its authority replaces Host (RFC 9112 3.2.2); forward origin-form
            int authStart = target.indexOf("//") + 2;
            int slash = target.indexOf('/', authStart);
            String authority = slash < 0 ? target.substring(authStart) : target.substring(authStart, slash);
            if (authority.isEmpty() || authority.indexOf('@') >= 0) {
                throw new ProxyException(Failure.BAD_REQUEST, "malformed request target");
            }
            path = slash < 0 ? "/" : target.substring(slash);
            req.target = path;
            req.set("Host", authority);
            hosts = 1;
        } else if (target.equals("*") && req.method.equals("OPTIONS")) {
            path = "*";
        } else {
            throw new ProxyException(Failure.BAD_REQUEST, "malformed request target");
        }
        if (hosts == 0 && req.minorVersion >= 1) {
            throw new ProxyException(Failure.BAD_REQUEST, "missing Host header");
        }
        if (hosts == 1) {
            String h = req.get("Host");
            for (int i = 0; i < h.length(); i++) {
                char c = h.charAt(i);
                if (c <= ' ' || c == '/' || c == '\\' || c == '@' || c >= 0x7f) {
                    throw new ProxyException(Failure.BAD_REQUEST, "invalid Host header");
                }
            }
        }
        int pathEnd = path.indexOf('?');
        if (pathEnd >= 0) {
            path = path.substring(0, pathEnd);
        }

        BodyFraming framing = BodyFraming.ofRequest(req, proxy.maxRequestBody);
        reqFraming = framing.framing();
        reqLength = framing.length();
        reqTransferEncoding = framing.transferEncoding();
        clientKeepAlive = req.minorVersion >= 1 ? !req.hasToken("Connection", "close")
                : req.hasToken("Connection", "keep-alive");
        return path;
    }

    private void connect() {
        long now = System.nanoTime();
        while (true) {
            int s = group.pick(tried);
            if (s < 0) {
                fail(lastConnectFailure != null ? lastConnectFailure
                        : new ProxyException(Failure.SERVICE_UNAVAILABLE, "no server of upstream '" + group.group.name + "' left to try"));
                return;
            }
            server = s;
            if (s < 64) {
                tried |= 1L << s;
            }
            attempts++;
            UpstreamConnection pooled = group.pollIdle(s, now);
            if (pooled != null) {
                attach(pooled, true);
                return;
            }
            break;
        }
        UpstreamConnection conn = new UpstreamConnection(group, server);
        int target = server;
        new Bootstrap().group(client.channel.eventLoop()) // shared-nothing: same loop as the client
                .channel(proxy.transports.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new ReadSizes())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, group.group.connectTimeoutMillis))
                .handler(conn)
                .connect(group.group.addresses[target])
                .addListener((ChannelFuture f) -> connected(conn, target, f));
    }

    private void connected(UpstreamConnection conn, int target, ChannelFuture f) {
        Upstreams.Group g = group.group;
        if (!f.isSuccess()) {
            ProxyException e = Failure.fromUpstream(f.cause(), g.labels[target]);
            g.connectFailed(f.cause(), e.reason());
            if (done) {
                return;
            }
            lastConnectFailure = e;
            connect(); // the next untried server, if any
            return;
        }
        g.connectOk.increment();
        if (done) {
            // the client went away while we connected: keep the fresh connection for the next request
            conn.idle();
            group.release(target, conn, System.nanoTime());
            return;
        }
        attach(conn, false);
    }

    private void attach(UpstreamConnection c, boolean reused) {
        up = c;
        upReused = reused;
        c.exchange = this;
        c.requests++;
        if (reused) {
            group.group.reused.increment();
        }
        group.active[server]++;
        entry.upstream = c.label();
        upParser = new HeadParser(false, proxy.maxResponseHeaderSize, Integer.MAX_VALUE);

        ByteBuf head = upstreamHead();
        if (reqFraming == Framing.NONE) {
            up.channel.writeAndFlush(head);
            requestComplete();
        } else {
            reqBody = new BodyTransfer(client.channel, up.channel, reqFraming, reqLength, true, false,
                    proxy.maxRequestBody, zeroCopy(), this);
            rateWindowStartNanos = System.nanoTime();
            reqBody.start(head, client.buffered());
            if (done) {
                return; // the body bytes read with the head were refused (bad chunk framing, over the limit)
            }
        }
        ReadSizes.head(up.channel);
        up.channel.read(); // the response head; an upstream may answer before the body is complete
    }

    /** The route's choice: copy, splice above the size threshold (auto), or splice whatever the size. */
    private ZeroCopy zeroCopy() {
        return switch (route.config().zeroCopy()) {
            case COPY -> null;
            case AUTO -> client.loop.zeroCopyAuto;
            case SPLICE -> client.loop.zeroCopyForced;
        };
    }

    /** The request head as sent upstream: hop-by-hop fields removed, forwarding fields added. */
    private ByteBuf upstreamHead() {
        HttpHead h = req;
        String originalHost = h.get("Host");
        stripHopByHop(h);
        if (reqFraming == Framing.CHUNKED) {
            h.add("Transfer-Encoding", reqTransferEncoding);
        }
        String xff = h.joined("X-Forwarded-For");
        h.set("X-Forwarded-For", xff == null ? client.clientIp : xff + ", " + client.clientIp);
        h.set("X-Forwarded-Proto", "http");
        if (originalHost != null) {
            h.set("X-Forwarded-Host", originalHost);
        } else {
            h.add("Host", up.label()); // HTTP/1.0 without Host: name the server we talk to
        }
        addVia(h, req.minorVersion);
        return h.encodeRequest(client.channel.alloc());
    }

    /**
     * RFC 9110 7.6.1: Connection, the fields it names, and the standard hop-by-hop fields. A Connection option that
     * names a field framing or routing the message ({@link #neverHopByHop}) is ignored: dropping Content-Length while
     * still sending the body is request smuggling, dropping Host misroutes it.
     */
    static void stripHopByHop(HttpHead h) {
        String connection = h.joined("Connection");
        if (connection != null) {
            for (String token : connection.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !neverHopByHop(t)) {
                    h.remove(t);
                }
            }
        }
        h.remove("Connection");
        h.remove("Keep-Alive");
        h.remove("TE");
        h.remove("Trailer");
        h.remove("Upgrade");
        h.remove("Transfer-Encoding");
        for (int i = h.size() - 1; i >= 0; i--) {
            if (h.names.get(i).regionMatches(true, 0, "Proxy-", 0, 6)) {
                h.names.remove(i);
                h.values.remove(i);
            }
        }
    }

    /** Fields a Connection option may not remove: Content-Length, Transfer-Encoding (handled by framing) and Host. */
    static boolean neverHopByHop(String name) {
        return name.equalsIgnoreCase("Content-Length") || name.equalsIgnoreCase("Transfer-Encoding")
                || name.equalsIgnoreCase("Host");
    }

    private static void addVia(HttpHead h, int minor) {
        String via = h.joined("Via");
        String mine = (minor == 0 ? "1.0 " : "1.1 ") + VIA;
        h.set("Via", via == null ? mine : via + ", " + mine);
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

    // ---------------------------------------------------------------- response side

    void upstreamRead(ByteBuf buf) {
        lastProgressNanos = System.nanoTime();
        responseBytesSeen = true;
        if (done) {
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
            if (h.status == 101) {
                upstreamReusable = false;
                fail(new ProxyException(Failure.BAD_GATEWAY, "upstream switched protocols though Upgrade was not forwarded"));
                return;
            }
            if (++interimResponses > MAX_INTERIM_RESPONSES) {
                upstreamReusable = false;
                fail(new ProxyException(Failure.BAD_GATEWAY, "upstream sent more than " + MAX_INTERIM_RESPONSES
                        + " interim (1xx) responses"));
                return;
            }
            if (req.minorVersion >= 1) {
                // interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they come
                stripHopByHop(h);
                ByteBuf out = h.encodeResponse(client.channel.alloc());
                entry.bytesOut += out.readableBytes();
                client.channel.writeAndFlush(out);
            }
        }
    }

    private void responseHead(HttpHead h) {
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
        long length = bf.length();
        String te = bf.transferEncoding();
        if (framing == Framing.UNTIL_CLOSE || h.hasToken("Connection", "close")
                || (h.minorVersion == 0 && !h.hasToken("Connection", "keep-alive"))) {
            upstreamReusable = false;
        }
        boolean dechunk = framing == Framing.CHUNKED && req.minorVersion == 0;
        if (!clientKeepAlive || framing == Framing.UNTIL_CLOSE || dechunk) {
            closeClient = true;
        }
        stripHopByHop(h);
        if (framing == Framing.CHUNKED && !dechunk) {
            h.add("Transfer-Encoding", te);
        }
        addVia(h, h.minorVersion);
        if (closeClient) {
            h.add("Connection", "close");
        } else if (req.minorVersion == 0) {
            h.add("Connection", "keep-alive");
        }
        ByteBuf out = h.encodeResponse(client.channel.alloc());
        entry.bytesOut += out.readableBytes();
        responseStarted = true;
        respBody = new BodyTransfer(up.channel, client.channel, framing, length, false, dechunk, 0, zeroCopy(), this);
        ByteBuf pre = upIn;
        upIn = null;
        respBody.start(out, pre);
        pre.release();
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
                closeClient = true;
                upstreamReusable = false;
            }
            finish();
        }
    }

    @Override
    public void bodyFailed(BodyTransfer t, ProxyException cause) {
        if (t == reqBody && cause.failure == Failure.BAD_GATEWAY && !responseStarted) {
            // the upstream stopped taking the body; it may still have answered (e.g. 413): wait for that,
            // and upstreamClosed() reports 502 if no response comes
            closeClient = true;
            upstreamReusable = false;
            entry.reason = cause.reason();
            return;
        }
        upstreamReusable = false;
        fail(cause);
    }

    // ---------------------------------------------------------------- endings

    void upstreamClosed(UpstreamConnection c) {
        if (done || c != up) {
            return;
        }
        upstreamReusable = false;
        if (respBody != null) {
            respBody.sourceClosed();
            return;
        }
        if (!responseBytesSeen && upReused && reqFraming == Framing.NONE && attempts < 4
                && (req.method.equals("GET") || req.method.equals("HEAD") || req.method.equals("OPTIONS"))) {
            // a pooled connection the server had closed meanwhile: safe to send again on a fresh one
            group.active[server]--;
            up = null;
            tried = 0;
            if (upIn != null) {
                upIn.release();
                upIn = null;
            }
            connect();
            return;
        }
        fail(new ProxyException(Failure.BAD_GATEWAY, responseBytesSeen
                ? "upstream closed the connection in the response head"
                : "upstream closed the connection without responding"));
    }

    void clientClosed() {
        if (done) {
            return;
        }
        upstreamReusable = false;
        if (entry.status == 0 || !responseStarted) {
            entry.status = 499; // client closed request (as nginx logs it)
        }
        if (entry.reason.isEmpty()) {
            entry.reason = "client closed the connection" + (responseStarted ? " during the response" : "");
        }
        finish();
    }

    void tick(long now) {
        if (done) {
            return;
        }
        if (requestSent && resp == null && up != null && now - requestSentNanos > group.group.responseTimeoutNanos) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.GATEWAY_TIMEOUT, "upstream response timeout after "
                    + group.group.config.responseTimeout() + " (" + up.label() + ")"));
            return;
        }
        if (proxy.minBodyBytesPerWindow > 0 && reqBody != null && !reqBody.isFinished()
                && now - rateWindowStartNanos >= proxy.bodyRateWindowNanos) {
            long progress = reqBody.bytesSoFar();
            if (progress - rateWindowBytes < proxy.minBodyBytesPerWindow) {
                // a trickling upload would hold its upstream connection for as long as the client likes
                upstreamReusable = false;
                var rate = proxy.config.limits().minRequestBodyRate();
                fail(new ProxyException(Failure.REQUEST_TIMEOUT, "request body slower than " + rate.bytesPerSecond()
                        + " bytes/s: " + (progress - rateWindowBytes) + " bytes in the last " + rate.window()));
                return;
            }
            rateWindowStartNanos = now;
            rateWindowBytes = progress;
        }
        boolean splicing = (reqBody != null && reqBody.isSplicing()) || (respBody != null && respBody.isSplicing());
        boolean waitingForHead = requestSent && resp == null;
        if (!splicing && !waitingForHead && up != null && now - lastProgressNanos > proxy.idleTimeoutNanos) {
            upstreamReusable = false;
            fail(new ProxyException(Failure.GATEWAY_TIMEOUT, "idle timeout: no bytes moved for " + proxy.config.timeouts().idle()));
        }
    }

    /** Sluice is stopping: end now, closing the client (a response cut short must not look complete). */
    void stop() {
        if (done) {
            return;
        }
        if (entry.reason.isEmpty()) {
            entry.reason = "Sluice stopped";
        }
        if (entry.status == 0) {
            entry.status = 503;
        }
        upstreamReusable = false;
        abortClient = true;
        finish();
    }

    /**
     * Fails the exchange: a local reply if the client has seen nothing yet, otherwise a cut-short close. A response
     * cut short by the upstream's side (broken framing, a reset, a stall) is logged with the failure's status and
     * the status that went out in its reason, so the access log never shows such a response as a plain success.
     */
    private void fail(ProxyException e) {
        if (done) {
            return;
        }
        if (entry.reason.isEmpty()) {
            entry.reason = e.reason();
        }
        if (responseStarted) {
            entry.reason = e.reason();
            if (e.failure.status >= 500 && resp != null) {
                entry.reason += " (response cut short after " + resp.status + " was sent)";
                entry.status = e.failure.status;
            }
            abortClient = true;
            finish();
        } else {
            reject(e);
        }
    }

    /** Sends a locally generated reply for {@code e} and ends the exchange. */
    void reject(ProxyException e) {
        if (done) {
            return;
        }
        boolean close = e.failure.closesConnection || req == null
                || (reqFraming != Framing.NONE && (reqBody == null || !reqBody.isFinished()))
                || closeClient || !clientKeepAlive;
        closeClient = close;
        entry.status = e.failure.status;
        entry.reason = e.reason();
        if (entry.route.isEmpty() && route == null) {
            entry.route = "";
        }
        proxy.metrics.localReplies.increment();
        LOG.log(System.Logger.Level.DEBUG, "{0} {1} from {2}: {3}", e.failure.status, e.failure.phrase, client.clientIp, e.reason());
        String body = e.failure.status + " " + e.failure.phrase
                + (e.failure.status < 500 ? ": " + e.reason() : "") + "\n";
        byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
        boolean head = req != null && "HEAD".equals(req.method);
        String headText = "HTTP/1.1 " + e.failure.status + " " + e.failure.phrase + "\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + bodyBytes.length + "\r\n"
                + "Via: 1.1 " + VIA + "\r\n"
                + (close ? "Connection: close\r\n" : "") + "\r\n";
        ByteBuf out = ClientConnection.ascii(client.channel, headText);
        if (!head) {
            out.writeBytes(bodyBytes);
        }
        entry.bytesOut += out.readableBytes();
        responseStarted = true;
        if (client.state != ClientConnection.State.CLOSED) {
            client.channel.writeAndFlush(out);
        } else {
            out.release();
        }
        finish();
    }

    private void finish() {
        if (done) {
            return;
        }
        done = true;
        // A splice still in flight refers to the sockets' fds: nothing is closed or pooled until the
        // kernel has let go of them (a closed fd number is reused at once by the next accept).
        if (reqBody != null && reqBody.cancel(this::cancelled)) {
            pendingCancels++;
        }
        if (respBody != null && respBody.cancel(this::cancelled)) {
            pendingCancels++;
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
            group.active[server]--;
            UpstreamConnection c = up;
            up = null;
            boolean reusable = upstreamReusable && !abortClient && requestSent && respBody != null
                    && respBody.isFinished() && (reqBody == null || reqBody.isFinished()) && c.channel.isActive();
            if (reusable && (respBody.trailingBytes || bytesAfterBody(c) != 0)) {
                // The server sent more than its response announced: pooled, the surplus would be read as the
                // answer to the next request sent on this connection (a response desync). Close it instead.
                reusable = false;
                group.group.surplus(c.label(), "bytes after the response to " + req.method + " " + req.target);
                if (entry.reason.isEmpty()) {
                    entry.reason = "upstream sent bytes after the response (connection not reused)";
                }
            }
            if (reusable) {
                c.idle();
                group.release(server, c, System.nanoTime());
            } else {
                c.exchange = null;
                c.channel.close();
            }
        }
        long reqBytes = reqBody == null ? 0 : reqBody.bytes;
        long respBytes = respBody == null ? 0 : respBody.bytes;
        entry.bytesIn += reqBytes;
        entry.bytesOut += respBytes;
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
        }
        entry.mechanism = mechanismLabel();
        proxy.accessLog.log(entry);
        if (abortClient) {
            client.abort();
        } else {
            client.exchangeDone(this, closeClient || !clientKeepAlive);
        }
    }

    /**
     * Bytes already queued on the upstream socket after a response whose body ended in a splice (which reads exactly
     * the body), or 0; -1 or -errno when the kernel cannot say. A copied body's surplus shows up in its last read
     * instead ({@code trailingBytes}).
     */
    private int bytesAfterBody(UpstreamConnection c) {
        if (respBody.splicedBytes == 0 || client.loop.splicer == null) {
            return 0;
        }
        return client.loop.splicer.queuedBytes(c.channel);
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
        if (respBody == null && reqBody == null) {
            return "";
        }
        BodyTransfer t = respBody != null && respBody.bytes > 0 ? respBody : reqBody != null ? reqBody : respBody;
        return t.mechanism().label;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "Exchange[%s %s route=%s]", entry.method, entry.target, entry.route);
    }
}
