package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.net.InetSocketAddress;

/**
 * A client connection: reads request heads, runs one {@link Exchange} at a time (pipelined requests
 * wait in the buffer and are answered in order), enforces the head and idle timeouts.
 */
final class ClientConnection extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(ClientConnection.class.getName());

    /** LINGER: the last response is out and the write side shut; what the client still sends is dropped. */
    enum State { HEAD, EXCHANGE, LINGER, CLOSED }

    /**
     * Lingering close (RFC 9112 9.6): after the last response on a connection Sluice closes, it half-closes and
     * reads, dropping what arrives, until the client closes, nothing has come for {@link #LINGER_QUIET_NANOS}, or
     * {@link #LINGER_MAX_NANOS} have passed. Closing at once while the client still sends (an upload refused with
     * 413, a request line after a 400) makes the kernel answer its next bytes with a reset, which can erase the
     * response in the client's receive buffer before it reads it, and makes the client's write fail first.
     */
    static final long LINGER_QUIET_NANOS = 2_000_000_000L;
    static final long LINGER_MAX_NANOS = 10_000_000_000L;

    final ProxyContext proxy;
    /** Each exchange routes by this listener's router in the loop's generation as it starts. */
    final String listener;
    Channel channel;
    LoopContext loop;
    String clientIp = "-";
    /** With the head limits of the generation in effect when the connection opened. */
    private HeadParser parser;
    private ByteBuf in;
    State state = State.HEAD;
    Exchange exchange;
    private int requests;
    private long headStartNanos;
    long lastActivityNanos;
    private long lingerStartNanos;
    /** The socket's congestion control, read at the first cache hit ("" until then; null when it cannot be read). */
    private String congestion = "";

    ClientConnection(ProxyContext proxy, String listener) {
        this.proxy = proxy;
        this.listener = listener;
    }

    /** The socket's TCP congestion control (one getsockopt, at the first call), or null when unknown. */
    String congestion() {
        if (congestion != null && congestion.isEmpty()) {
            congestion = dev.sluice.splice.Splicer.congestionControl(channel);
        }
        return congestion;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        loop = proxy.loop(channel.eventLoop());
        loop.clients.add(this);
        parser = new HeadParser(true, loop.generation.maxHeaderSize, loop.generation.maxTarget);
        if (channel.remoteAddress() instanceof InetSocketAddress a) {
            clientIp = a.getAddress().getHostAddress();
        }
        proxy.metrics.clientConnections.incrementAndGet();
        proxy.metrics.clientConnectionsTotal.increment();
        long now = System.nanoTime();
        headStartNanos = now;
        lastActivityNanos = now;
        channel.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf buf = (ByteBuf) msg;
        lastActivityNanos = System.nanoTime();
        if (state == State.CLOSED || state == State.LINGER) {
            buf.release();
            if (state == State.LINGER) {
                channel.read();
            }
            return;
        }
        if (exchange != null && exchange.requestBodyOpen()) {
            exchange.requestBytes(buf);
            if (buf.isReadable()) {
                append(buf); // a pipelined request after the body
            } else {
                buf.release();
            }
            return;
        }
        if (state == State.HEAD && (in == null || !in.isReadable())) {
            headStartNanos = lastActivityNanos; // a head's first byte: its timer starts here, not at the last response
        }
        append(buf);
        if (state == State.HEAD) {
            parseHead();
        }
    }

    private void append(ByteBuf buf) {
        if (in == null) {
            in = buf;
        } else {
            in = ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(channel.alloc(), in, buf);
        }
    }

    /** Bytes read together with the head that may belong to the body (consumed by the exchange). */
    ByteBuf buffered() {
        return in;
    }

    private void parseHead() {
        if (in == null || !in.isReadable()) {
            channel.read();
            return;
        }
        HttpHead head;
        int before = in.readerIndex();
        try {
            head = parser.parse(in);
        } catch (ProxyException e) {
            rejectHead(e);
            return;
        }
        if (head == null) {
            channel.read();
            return;
        }
        requests++;
        state = State.EXCHANGE;
        exchange = new Exchange(this, head, headStartNanos);
        exchange.entry.bytesIn = in.readerIndex() - before;
        exchange.start();
    }

    /** A head that cannot be parsed: reply (logged like any request) and close. */
    private void rejectHead(ProxyException e) {
        state = State.EXCHANGE;
        exchange = new Exchange(this, null, headStartNanos);
        exchange.reject(e);
    }

    /** The exchange is over; keep the connection for the next request or close it. */
    void exchangeDone(Exchange ex, boolean close) {
        if (exchange != ex) {
            return;
        }
        exchange = null;
        if (close || !channel.isActive()) {
            closeAfterFlush();
            return;
        }
        state = State.HEAD;
        long now = System.nanoTime();
        lastActivityNanos = now; // the keep-alive wait (timeouts.idle) starts now
        if (in != null && !in.isReadable()) {
            in.release();
            in = null;
        } else if (in != null) {
            headStartNanos = now; // a pipelined head is here already
        }
        parseHead(); // a pipelined request may be waiting already
    }

    /** The response is complete and the connection ends: flush, then close in stages (see {@link State#LINGER}). */
    void closeAfterFlush() {
        if (state == State.CLOSED || state == State.LINGER) {
            return;
        }
        if (!(channel instanceof DuplexChannel duplex)) {
            state = State.CLOSED;
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        state = State.LINGER;
        if (in != null) {
            in.release(); // what is left of a refused request, or a pipelined one that will not be answered
            in = null;
        }
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
            if (!f.isSuccess() || !channel.isActive()) {
                abort();
                return;
            }
            duplex.shutdownOutput().addListener(g -> {
                if (!g.isSuccess() || state != State.LINGER) {
                    abort();
                    return;
                }
                long now = System.nanoTime();
                lingerStartNanos = now;
                lastActivityNanos = now;
                channel.read();
            });
        });
    }

    /**
     * Sluice is stopping: an exchange in progress ends as aborted (a splice in flight is cancelled, and its
     * completion awaited, before the sockets close); an idle connection just closes.
     */
    void shutdown() {
        if (state == State.CLOSED) {
            return;
        }
        if (exchange != null) {
            exchange.stop();
        } else {
            abort();
        }
    }

    /** Closes at once: the client must not mistake a cut-short response for a complete one. */
    void abort() {
        state = State.CLOSED;
        channel.close();
    }

    /**
     * Checks this connection's deadlines; run by its loop's watchdog ({@link LoopContext#tick}). Between requests a
     * connection falls under {@code timeouts.idle} (the first request under {@code request-head}, counted from the
     * accept); a head, from its first byte, under {@code request-head}.
     */
    void tick(long now) {
        if (state == State.HEAD) {
            Generation gen = loop.generation; // between exchanges: the timeouts in effect now
            boolean partial = in != null && in.isReadable();
            if (partial && now - headStartNanos > gen.requestHeadTimeoutNanos) {
                rejectHead(new ProxyException(Failure.REQUEST_TIMEOUT, "request head not complete within "
                        + gen.config.timeouts().requestHead()));
            } else if (!partial && requests == 0 && now - headStartNanos > gen.requestHeadTimeoutNanos) {
                LOG.log(System.Logger.Level.DEBUG, "closing {0}: no request within the head timeout", clientIp);
                abort();
            } else if (!partial && now - lastActivityNanos > gen.idleTimeoutNanos) {
                abort(); // idle keep-alive connection
            }
        } else if (state == State.LINGER) {
            if (lingerStartNanos != 0 && (now - lastActivityNanos > LINGER_QUIET_NANOS
                    || now - lingerStartNanos > LINGER_MAX_NANOS)) {
                abort();
            }
        } else if (exchange != null) {
            exchange.tick(now);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        loop.clients.remove(this);
        proxy.metrics.clientConnections.decrementAndGet();
        if (in != null) {
            // first, so the read buffer goes back whatever the exchange's teardown below does
            in.release();
            in = null;
        }
        if (exchange != null) {
            Exchange ex = exchange;
            exchange = null;
            ex.clientClosed();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        HandlerErrors.caught("client connection from " + clientIp, cause);
        abort();
    }
}
