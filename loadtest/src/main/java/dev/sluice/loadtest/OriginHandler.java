package dev.sluice.loadtest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One origin connection: a strict HTTP/1.1 request parser and a streaming response writer in one handler, so that
 * pipelined requests are answered strictly in order. AUTO_READ is off: the handler reads only while it parses a
 * request (head or body) and never while a response is being written, so a pipelining client waits in the kernel's
 * buffers, not in ours. Response bodies are written in pieces of at most 64 KiB while the channel is writable and
 * resumed from {@link #channelWritabilityChanged}; nothing is aggregated, whatever the body size.
 */
final class OriginHandler extends ChannelInboundHandlerAdapter {
    private static final int MAX_HEAD = 64 * 1024;
    private static final int MAX_LINE = 8 * 1024;
    private static final int[] CHUNK_SIZES = {1, 2, 7, 64, 1000, 4096, 8191, 16384, 32768, 65536, 65535, 12345};
    private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private enum State { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILER, RESPONDING, DONE }

    private final Origin origin;
    private ChannelHandlerContext ctx;
    private ByteBuf cum;
    private int headScanned;
    private State state = State.HEAD;
    private boolean inParse;
    private ScheduledFuture<?> timer;

    // the request being received
    private OriginRequest req;
    private OriginPlan.Params params;
    private OriginPlan plan; // known at head time unless upload
    private long remaining;
    private long upSeed;
    private long upReceived;
    private long upMismatch;

    // the response being sent
    private OriginPlan out;
    private long sent; // body bytes written
    private long limit; // body bytes to write before the end or the fault
    private long chunkLeft;
    private int chunkIndex;
    private boolean needCrlf;
    private long rateStart;

    OriginHandler(Origin origin) {
        this.origin = origin;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        origin.accepted.incrementAndGet();
        origin.open.incrementAndGet();
        ctx.read();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        origin.open.decrementAndGet();
        state = State.DONE;
        cancelTimer();
        releaseCum();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        if (state == State.DONE) {
            in.release();
            return;
        }
        cum = cum == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), cum, in);
        parse();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (state == State.RESPONDING && out != null && timer == null && ctx.channel().isWritable()) {
            pump();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        state = State.DONE;
        ctx.close();
        if (!(cause instanceof IOException)) {
            System.err.println("origin " + origin.name() + ": " + cause);
        }
    }

    // ---- request parsing ----

    private boolean parsing() {
        return state.ordinal() <= State.TRAILER.ordinal();
    }

    private void parse() {
        if (inParse) {
            return;
        }
        inParse = true;
        try {
            while (parsing() && cum != null && cum.isReadable()) {
                if (!step()) {
                    break;
                }
            }
        } catch (OriginRequest.BadRequest e) {
            badRequest(e.getMessage());
        } finally {
            inParse = false;
        }
        if (cum != null && !cum.isReadable()) {
            releaseCum();
        }
        if (parsing() && ctx.channel().isActive()) {
            ctx.read();
        }
    }

    /** One parser step; false when more input is needed. */
    private boolean step() throws OriginRequest.BadRequest {
        switch (state) {
            case HEAD -> {
                return parseHead();
            }
            case BODY, CHUNK_DATA -> {
                int n = (int) Math.min(remaining, cum.readableBytes());
                body(cum, n);
                cum.skipBytes(n);
                remaining -= n;
                if (remaining == 0) {
                    if (state == State.BODY) {
                        bodyEnd();
                    } else {
                        state = State.CHUNK_CRLF;
                    }
                }
                return true;
            }
            case CHUNK_CRLF -> {
                if (cum.readableBytes() < 2) {
                    return false;
                }
                if (cum.readByte() != '\r' || cum.readByte() != '\n') {
                    throw new OriginRequest.BadRequest("missing CRLF after chunk data");
                }
                state = State.CHUNK_SIZE;
                return true;
            }
            case CHUNK_SIZE -> {
                String line = readLine();
                if (line == null) {
                    return false;
                }
                int end = 0;
                while (end < line.length() && Character.digit(line.charAt(end), 16) >= 0) {
                    end++;
                }
                String rest = line.substring(end).stripLeading();
                if (end == 0 || end > 15 || !(rest.isEmpty() || rest.startsWith(";"))) {
                    throw new OriginRequest.BadRequest("bad chunk size line");
                }
                long size = Long.parseLong(line.substring(0, end), 16);
                if (size == 0) {
                    state = State.TRAILER;
                } else {
                    remaining = size;
                    state = State.CHUNK_DATA;
                }
                return true;
            }
            case TRAILER -> {
                String line = readLine();
                if (line == null) {
                    return false;
                }
                if (line.isEmpty()) {
                    bodyEnd();
                } else {
                    int colon = line.indexOf(':');
                    if (colon <= 0 || !OriginRequest.isToken(line.substring(0, colon))
                            || !OriginRequest.fieldValue(line.substring(colon + 1))) {
                        throw new OriginRequest.BadRequest("bad trailer");
                    }
                }
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /** A CRLF-terminated line (without the CRLF), or null if incomplete. */
    private String readLine() throws OriginRequest.BadRequest {
        int ri = cum.readerIndex();
        int max = Math.min(cum.writerIndex(), ri + MAX_LINE);
        int lf = cum.indexOf(ri, max, (byte) '\n');
        if (lf < 0) {
            if (max - ri >= MAX_LINE) {
                throw new OriginRequest.BadRequest("line too long");
            }
            return null;
        }
        if (lf == ri || cum.getByte(lf - 1) != '\r') {
            throw new OriginRequest.BadRequest("bare LF");
        }
        String line = cum.toString(ri, lf - 1 - ri, StandardCharsets.ISO_8859_1);
        cum.readerIndex(lf + 1);
        if (line.indexOf('\r') >= 0) {
            throw new OriginRequest.BadRequest("bare CR");
        }
        return line;
    }

    private boolean parseHead() throws OriginRequest.BadRequest {
        // RFC 9112 2.2: ignore empty lines before the request line
        while (cum.readableBytes() >= 2 && cum.getByte(cum.readerIndex()) == '\r'
                && cum.getByte(cum.readerIndex() + 1) == '\n') {
            cum.skipBytes(2);
            headScanned = 0;
        }
        int ri = cum.readerIndex();
        int wi = cum.writerIndex();
        int end = -1;
        for (int i = ri + Math.max(3, headScanned); i < wi; i++) {
            if (cum.getByte(i) == '\n' && cum.getByte(i - 1) == '\r' && cum.getByte(i - 2) == '\n'
                    && cum.getByte(i - 3) == '\r') {
                end = i + 1;
                break;
            }
        }
        if (end < 0) {
            headScanned = wi - ri;
            if (wi - ri > MAX_HEAD) {
                throw new OriginRequest.BadRequest("request head too large");
            }
            return false;
        }
        headScanned = 0;
        if (end - ri > MAX_HEAD) {
            throw new OriginRequest.BadRequest("request head too large");
        }
        String raw = cum.toString(ri, end - ri, StandardCharsets.ISO_8859_1);
        cum.readerIndex(end);
        OriginRequest r = OriginRequest.parse(raw);
        origin.received.incrementAndGet();
        req = r;
        try {
            params = new OriginPlan.Params(r, r.isUpload() ? 201 : 200);
            plan = r.isUpload() ? null
                    : params.stats ? OriginPlan.stats(r, params, origin.name(), origin.requests(), origin.bodyBytes())
                    : OriginPlan.serve(r, params, origin.name());
        } catch (IllegalArgumentException e) {
            throw new OriginRequest.BadRequest(e.getMessage());
        }
        if (r.isUpload()) {
            upSeed = Payload.seed(r.query.path());
            upReceived = 0;
            upMismatch = -1;
        }
        if (r.expectContinue && r.hasBody()) {
            ctx.writeAndFlush(Unpooled.wrappedBuffer(CONTINUE), ctx.voidPromise());
        }
        if (r.chunked) {
            state = State.CHUNK_SIZE;
        } else if (r.contentLength > 0) {
            state = State.BODY;
            remaining = r.contentLength;
        } else {
            bodyEnd();
        }
        return true;
    }

    private void body(ByteBuf buf, int n) {
        if (req.isUpload()) {
            if (upMismatch < 0) {
                upMismatch = Payload.firstMismatch(upSeed, upReceived, buf, buf.readerIndex(), n);
            }
            upReceived += n;
        }
    }

    private void bodyEnd() {
        OriginPlan p = req.isUpload()
                ? OriginPlan.uploaded(req, params, origin.name(), upReceived, upMismatch)
                : plan;
        req = null;
        params = null;
        plan = null;
        respond(p);
    }

    private void badRequest(String reason) {
        releaseCum();
        state = State.RESPONDING;
        OriginPlan p = OriginPlan.badRequest(reason, origin.name());
        ByteBuf b = ctx.alloc().buffer(p.head.length() + p.fixed.length);
        b.writeCharSequence(p.head, StandardCharsets.ISO_8859_1);
        b.writeBytes(p.fixed);
        state = State.DONE;
        ctx.writeAndFlush(b).addListener(ChannelFutureListener.CLOSE);
    }

    // ---- response writing ----

    private void respond(OriginPlan p) {
        state = State.RESPONDING;
        out = p;
        sent = 0;
        chunkLeft = 0;
        chunkIndex = 0;
        needCrlf = false;
        limit = !p.sendBody ? 0
                : switch (p.fault) {
                    case RESET, STALL, SHORT -> Math.min(p.faultAt, p.bodyLength);
                    default -> p.bodyLength;
                };
        if (p.delayMs > 0) {
            timer = ctx.executor().schedule(this::startResponse, p.delayMs, TimeUnit.MILLISECONDS);
        } else {
            startResponse();
        }
    }

    private void startResponse() {
        timer = null;
        if (state != State.RESPONDING) {
            return;
        }
        ByteBuf head = ByteBufUtil.encodeString(ctx.alloc(), java.nio.CharBuffer.wrap(out.head),
                StandardCharsets.ISO_8859_1);
        if (out.fault == OriginPlan.Fault.CLOSE) {
            state = State.DONE;
            ctx.writeAndFlush(head).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.write(head, ctx.voidPromise());
        rateStart = System.nanoTime();
        pump();
    }

    private void pump() {
        if (state != State.RESPONDING) {
            return;
        }
        Channel ch = ctx.channel();
        OriginPlan p = out;
        boolean wrote = false;
        while (sent < limit) {
            if (!ch.isWritable()) {
                break; // channelWritabilityChanged resumes
            }
            int max = (int) Math.min(limit - sent, BodyCache.PIECE);
            if (p.rate > 0) {
                long due = rateStart + (long) (sent * 1e9 / p.rate);
                long now = System.nanoTime();
                if (due > now) {
                    timer = ctx.executor().schedule(this::paced, due - now, TimeUnit.NANOSECONDS);
                    break;
                }
                max = (int) Math.min(max, Math.max(1, p.rate / 50));
            }
            if (p.chunked) {
                if (chunkLeft == 0) {
                    int next = p.chunkSize > 0 ? p.chunkSize : CHUNK_SIZES[chunkIndex++ % CHUNK_SIZES.length];
                    chunkLeft = Math.min(next, p.bodyLength - sent);
                    String line = (needCrlf ? "\r\n" : "") + Long.toHexString(chunkLeft) + "\r\n";
                    ctx.write(Unpooled.copiedBuffer(line, StandardCharsets.US_ASCII), ctx.voidPromise());
                    needCrlf = true;
                }
                max = (int) Math.min(max, chunkLeft);
            }
            ByteBuf data = p.fixed != null
                    ? Unpooled.wrappedBuffer(p.fixed, (int) sent, max)
                    : origin.bodyCache().slice(ctx.alloc(), p.seed, p.bodyStart + sent, max);
            int n = data.readableBytes();
            ctx.write(data, ctx.voidPromise());
            sent += n;
            if (p.chunked) {
                chunkLeft -= n;
            }
            wrote = true;
        }
        if (sent >= limit) {
            finish();
        } else if (wrote) {
            ctx.flush();
        }
    }

    private void paced() {
        timer = null;
        pump();
    }

    private void finish() {
        OriginPlan p = out;
        switch (p.sendBody ? p.fault : OriginPlan.Fault.NONE) {
            case SHORT -> {
                state = State.DONE;
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
            case STALL -> {
                state = State.DONE; // keep the connection open, send and read nothing more
                ctx.flush();
            }
            case RESET -> {
                state = State.DONE;
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> resetWhenDrained(0));
            }
            default -> {
                if (p.chunked && p.sendBody) {
                    ctx.write(Unpooled.copiedBuffer((needCrlf ? "\r\n" : "") + "0\r\n\r\n",
                            StandardCharsets.US_ASCII), ctx.voidPromise());
                }
                if (p.fault == OriginPlan.Fault.SURPLUS && p.sendBody) {
                    // a broken or hostile server: more bytes than the response announced, in the same flush
                    ctx.write(Unpooled.copiedBuffer(OriginPlan.SURPLUS_RESPONSE, StandardCharsets.US_ASCII),
                            ctx.voidPromise());
                }
                out = null;
                if (!p.uncounted) {
                    origin.bodyBytes.addAndGet(sent);
                    origin.requests.incrementAndGet(); // before the last flush: a client never sees it uncounted
                }
                if (p.close) {
                    state = State.DONE;
                    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                } else {
                    ctx.flush();
                    state = State.HEAD;
                    parse(); // the next pipelined request, if any (no-op when called from inside parse())
                }
            }
        }
    }

    /**
     * SO_LINGER 0 discards whatever the kernel still queues, so wait (up to ~3 s) until the peer has acknowledged
     * every byte, then reset. Without SIOCOUTQ (NIO, no native access), wait 20 ms instead.
     */
    private void resetWhenDrained(int attempt) {
        Channel ch = ctx.channel();
        if (!ch.isActive()) {
            return;
        }
        int q = SocketQueue.outq(ch);
        if ((q > 0 && attempt < 3000) || (q < 0 && attempt < 20)) {
            ctx.executor().schedule(() -> resetWhenDrained(attempt + 1), 1, TimeUnit.MILLISECONDS);
            return;
        }
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
        ch.close();
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void releaseCum() {
        if (cum != null) {
            cum.release();
            cum = null;
        }
    }
}
