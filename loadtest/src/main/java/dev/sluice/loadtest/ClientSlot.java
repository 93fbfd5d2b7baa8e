package dev.sluice.loadtest;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One of the load client's N connections: sends a request, parses and verifies the response, repeats; reconnects
 * when the server closes. Every channel of a slot lives on the slot's event loop, so no field needs a lock; the
 * controller reads {@link #stats} only after the loop has terminated.
 */
final class ClientSlot {
    static final int ERROR = 1;
    static final int TIMEOUT = 2;
    static final int WRONG_STATUS = 4;
    static final int SHORT = 8;
    static final int LONG = 16;
    static final int WRONG_BYTES = 32;
    static final int WRONG_RANGE = 64;

    private static final int MAX_HEAD = 64 * 1024;

    private enum S { IDLE, HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILER, EOF_BODY }

    final SlotStats stats = new SlotStats();
    private final LoadRun run;
    private final int id;
    private final EventLoop loop;
    private final SplittableRandom rnd;
    private Channel ch;
    private ByteBuf cum;
    private S s = S.IDLE;
    private boolean done;
    private long seq;
    private ScheduledFuture<?> timeoutTask;

    // the exchange in flight
    private Workload.Spec spec;
    private long sentAt;
    private long lastProgress;
    private int failMask;
    private boolean sawHead;
    private boolean statusOk;
    private boolean keepAlive;
    private long remaining;
    private long bodyRead;
    private boolean discardable;
    private boolean uploading;
    private long upSent;

    ClientSlot(LoadRun run, int id, EventLoop loop) {
        this.run = run;
        this.id = id;
        this.loop = loop;
        this.rnd = new SplittableRandom(run.randomSeed * 31 + id);
    }

    void start() {
        loop.execute(this::connect);
    }

    /** Hard stop from the controller: whatever is still in flight counts as timed out. */
    void abort() {
        loop.execute(() -> {
            if (s != S.IDLE && spec != null) {
                fail(TIMEOUT, "still in flight at the hard stop: " + spec.target());
                endExchange(false);
            }
            finish();
        });
    }

    private void connect() {
        if (done) {
            return;
        }
        if (run.stopIssuing()) {
            finish();
            return;
        }
        stats.connects++;
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(Transport.channel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new Handler());
        ChannelFuture f = b.connect(run.address);
        ch = f.channel();
        f.addListener(fut -> {
            if (fut.isSuccess()) {
                sendNext();
                return;
            }
            stats.errors++;
            run.sample("connect to " + run.address + " failed: " + fut.cause());
            ch = null;
            if (!run.take()) { // a failed connect uses up a request in count mode, so the run still ends
                finish();
            } else {
                loop.schedule(this::connect, 100, TimeUnit.MILLISECONDS);
            }
        });
    }

    private void sendNext() {
        if (done || ch == null || !ch.isActive()) {
            return;
        }
        if (!run.take()) {
            finish();
            return;
        }
        spec = run.workload.next(rnd, id, seq++);
        s = S.HEAD;
        failMask = 0;
        sawHead = false;
        statusOk = false;
        keepAlive = false;
        remaining = 0;
        bodyRead = 0;
        discardable = false;
        StringBuilder sb = new StringBuilder(160);
        sb.append(spec.upload() >= 0 ? "PUT " : "GET ").append(spec.target()).append(" HTTP/1.1\r\nHost: ")
                .append(run.hostHeader).append("\r\n");
        if (spec.range() != null) {
            sb.append("Range: ").append(spec.range()).append("\r\n");
        }
        if (spec.upload() >= 0) {
            sb.append("Content-Length: ").append(spec.upload()).append("\r\n");
        }
        sb.append(run.extraHeaders).append("\r\n");
        ByteBuf req = ByteBufUtil.writeAscii(ch.alloc(), sb);
        sentAt = System.nanoTime();
        lastProgress = sentAt;
        Channel c = ch;
        c.writeAndFlush(req).addListener(f -> {
            if (!f.isSuccess() && c == ch && s != S.IDLE) {
                fail(ERROR, "write failed: " + f.cause());
                c.close();
            }
        });
        armTimeout(run.timeoutNanos);
        upSent = 0;
        uploading = spec.upload() > 0;
        pumpUpload();
    }

    /** Streams the PUT body while the channel is writable; resumed by channelWritabilityChanged. */
    private void pumpUpload() {
        Channel c = ch;
        boolean wrote = false;
        while (uploading && c != null && c.isWritable()) {
            int n = (int) Math.min(BodyCache.PIECE, spec.upload() - upSent);
            ByteBuf piece = run.bodyCache.slice(c.alloc(), spec.seed(), upSent, n);
            n = piece.readableBytes();
            c.write(piece, c.voidPromise());
            upSent += n;
            count(System.nanoTime(), n);
            lastProgress = System.nanoTime();
            wrote = true;
            if (upSent == spec.upload()) {
                uploading = false;
            }
        }
        if (wrote) {
            c.flush();
        }
    }

    // ---- reading ----

    private void onRead(ByteBuf in) {
        long now = System.nanoTime();
        lastProgress = now;
        if (s == S.IDLE) {
            in.release();
            stats.errors++;
            run.sample("bytes received with no request outstanding");
            ch.close();
            return;
        }
        cum = cum == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ch.alloc(), cum, in);
        try {
            while (cum != null && cum.isReadable() && s != S.IDLE) {
                if (!step(now)) {
                    break;
                }
            }
        } catch (ProtocolError e) {
            fail(ERROR, e.getMessage() + " (" + spec.target() + ")");
            releaseCum();
            ch.close();
            return;
        }
        if (cum != null && !cum.isReadable()) {
            releaseCum();
        }
        if (s == S.BODY && discardable && cum == null) {
            drain();
        }
    }

    /** No-verify fast path: drop queued body bytes in the kernel (recv MSG_TRUNC) instead of copying them. */
    private void drain() {
        while (remaining > 0) {
            long n = SocketDiscard.discard(ch, remaining);
            if (n <= 0) {
                return; // EAGAIN (Netty's epoll wakes us for more) or EOF/error (Netty's next read reports it)
            }
            count(System.nanoTime(), n);
            bodyRead += n;
            remaining -= n;
        }
        complete();
    }

    private static final class ProtocolError extends Exception {
        ProtocolError(String m) {
            super(m, null, false, false);
        }
    }

    private boolean step(long now) throws ProtocolError {
        switch (s) {
            case HEAD -> {
                return head();
            }
            case BODY, CHUNK_DATA -> {
                int n = (int) Math.min(remaining, cum.readableBytes());
                body(now, n);
                cum.skipBytes(n);
                remaining -= n;
                if (remaining == 0) {
                    if (s == S.BODY) {
                        complete();
                    } else {
                        s = S.CHUNK_CRLF;
                    }
                }
                return true;
            }
            case EOF_BODY -> {
                int n = cum.readableBytes();
                body(now, n);
                cum.skipBytes(n);
                return true;
            }
            case CHUNK_CRLF -> {
                if (cum.readableBytes() < 2) {
                    return false;
                }
                if (cum.readByte() != '\r' || cum.readByte() != '\n') {
                    throw new ProtocolError("chunk data not followed by CRLF");
                }
                s = S.CHUNK_SIZE;
                return true;
            }
            case CHUNK_SIZE -> {
                String line = line();
                if (line == null) {
                    return false;
                }
                int end = 0;
                while (end < line.length() && Character.digit(line.charAt(end), 16) >= 0) {
                    end++;
                }
                String rest = line.substring(end).strip();
                if (end == 0 || end > 15 || !(rest.isEmpty() || rest.startsWith(";"))) {
                    throw new ProtocolError("bad chunk size line '" + line + "'");
                }
                remaining = Long.parseLong(line.substring(0, end), 16);
                s = remaining == 0 ? S.TRAILER : S.CHUNK_DATA;
                return true;
            }
            case TRAILER -> {
                String line = line();
                if (line == null) {
                    return false;
                }
                if (line.isEmpty()) {
                    complete();
                }
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private String line() throws ProtocolError {
        int ri = cum.readerIndex();
        int lf = cum.indexOf(ri, Math.min(cum.writerIndex(), ri + 8192), (byte) '\n');
        if (lf < 0) {
            if (cum.readableBytes() >= 8192) {
                throw new ProtocolError("line too long");
            }
            return null;
        }
        if (lf == ri || cum.getByte(lf - 1) != '\r') {
            throw new ProtocolError("bare LF");
        }
        String line = cum.toString(ri, lf - 1 - ri, StandardCharsets.ISO_8859_1);
        cum.readerIndex(lf + 1);
        return line;
    }

    private boolean head() throws ProtocolError {
        int ri = cum.readerIndex();
        int end = -1;
        for (int i = ri + 3; i < cum.writerIndex(); i++) {
            if (cum.getByte(i) == '\n' && cum.getByte(i - 1) == '\r' && cum.getByte(i - 2) == '\n'
                    && cum.getByte(i - 3) == '\r') {
                end = i + 1;
                break;
            }
        }
        if (end < 0) {
            if (cum.readableBytes() > MAX_HEAD) {
                throw new ProtocolError("response head too large");
            }
            return false;
        }
        String head = cum.toString(ri, end - ri, StandardCharsets.ISO_8859_1);
        cum.readerIndex(end);
        String[] lines = head.substring(0, head.length() - 4).split("\r\n", -1);
        String sl = lines[0];
        if (!(sl.startsWith("HTTP/1.1 ") || sl.startsWith("HTTP/1.0 ")) || sl.length() < 12) {
            throw new ProtocolError("bad status line '" + sl + "'");
        }
        int status;
        try {
            status = Integer.parseInt(sl.substring(9, 12));
        } catch (NumberFormatException e) {
            throw new ProtocolError("bad status line '" + sl + "'");
        }
        if (status >= 100 && status < 200) {
            return true; // interim response: the final one follows
        }
        boolean http11 = sl.charAt(7) == '1';
        String cl = null;
        String te = null;
        String conn = "";
        String cr = null;
        String verdict = null;
        String received = null;
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i];
            int colon = l.indexOf(':');
            if (colon <= 0) {
                throw new ProtocolError("bad header line '" + l + "'");
            }
            String name = l.substring(0, colon);
            String value = l.substring(colon + 1).strip();
            if (name.equalsIgnoreCase("content-length")) {
                if (cl != null && !cl.equals(value)) {
                    throw new ProtocolError("conflicting Content-Length");
                }
                cl = value;
            } else if (name.equalsIgnoreCase("transfer-encoding")) {
                te = te == null ? value : te + "," + value;
            } else if (name.equalsIgnoreCase("connection")) {
                conn = conn + "," + value.toLowerCase(Locale.ROOT);
            } else if (name.equalsIgnoreCase("content-range")) {
                cr = value;
            } else if (name.equalsIgnoreCase("x-body-verified")) {
                verdict = value;
            } else if (name.equalsIgnoreCase("x-received-bytes")) {
                received = value;
            }
        }
        sawHead = true;
        keepAlive = http11 ? !hasToken(conn, "close") : hasToken(conn, "keep-alive");
        statusOk = status == spec.status();
        if (!statusOk) {
            fail(WRONG_STATUS, "status " + status + ", expected " + spec.status() + " for " + spec.target()
                    + (spec.range() == null ? "" : " Range " + spec.range()));
        } else if (status == 206) {
            String want = "bytes " + spec.offset() + "-" + (spec.offset() + spec.length() - 1) + "/" + spec.full();
            if (!want.equals(cr)) {
                fail(WRONG_RANGE, "Content-Range '" + cr + "', expected '" + want + "' for " + spec.target()
                        + " Range " + spec.range());
            }
        }
        if (spec.upload() >= 0 && statusOk) {
            if (!"ok".equals(verdict)) {
                fail(WRONG_BYTES, "origin verdict on the " + spec.upload() + " bytes PUT to " + spec.target()
                        + ": X-Body-Verified " + verdict);
            }
            if (!String.valueOf(spec.upload()).equals(received)) {
                fail(SHORT, "origin received " + received + " of the " + spec.upload() + " bytes PUT to "
                        + spec.target());
            }
        }
        if (status == 204 || status == 304) {
            complete();
        } else if (te != null) {
            if (!te.strip().toLowerCase(Locale.ROOT).endsWith("chunked")) {
                throw new ProtocolError("unsupported Transfer-Encoding " + te);
            }
            s = S.CHUNK_SIZE;
        } else if (cl != null) {
            long n;
            try {
                n = Long.parseLong(cl);
            } catch (NumberFormatException e) {
                throw new ProtocolError("bad Content-Length " + cl);
            }
            if (n < 0) {
                throw new ProtocolError("bad Content-Length " + cl);
            }
            if (statusOk && spec.length() >= 0 && n != spec.length()) {
                fail(n < spec.length() ? SHORT : LONG, "Content-Length " + n + ", expected " + spec.length()
                        + " for " + spec.target());
            }
            remaining = n;
            s = S.BODY;
            discardable = run.discard && !run.verify && SocketDiscard.isAvailable(ch);
            if (n == 0) {
                complete();
            }
        } else {
            s = S.EOF_BODY;
            keepAlive = false;
        }
        return true;
    }

    private static boolean hasToken(String list, String token) {
        for (String t : list.split(",")) {
            if (t.strip().equals(token)) {
                return true;
            }
        }
        return false;
    }

    private void body(long now, int n) {
        if (n == 0) {
            return;
        }
        count(now, n);
        if (run.verify && statusOk && spec.verifyBytes() && (failMask & WRONG_BYTES) == 0) {
            long m = Payload.firstMismatch(spec.seed(), spec.offset() + bodyRead, cum, cum.readerIndex(), n);
            if (m >= 0) {
                fail(WRONG_BYTES, "wrong byte at payload offset " + m + " (body byte " + (m - spec.offset())
                        + ") of " + spec.target());
            }
        }
        bodyRead += n;
    }

    private void count(long now, long n) {
        stats.bodyBytes += n;
        if (now >= run.windowStart && now < run.windowEnd) {
            stats.windowBytes += n;
        }
    }

    private void complete() {
        if (statusOk && spec.length() >= 0 && (failMask & (SHORT | LONG)) == 0) {
            if (bodyRead < spec.length()) {
                fail(SHORT, "body ended after " + bodyRead + " of " + spec.length() + " bytes: " + spec.target());
            } else if (bodyRead > spec.length()) {
                fail(LONG, "body of " + bodyRead + " bytes, expected " + spec.length() + ": " + spec.target());
            }
        }
        endExchange(true);
        if (done) {
            return;
        }
        if (keepAlive) {
            sendNext();
        } else {
            ch.close(); // channelInactive reconnects
        }
    }

    /** Books the exchange in flight (complete or not) and returns to IDLE. */
    private void endExchange(boolean completed) {
        cancelTimeout();
        if (uploading) { // answered before the whole body went out: the connection is out of step
            uploading = false;
            keepAlive = false;
        }
        long now = System.nanoTime();
        if (completed) {
            stats.completed++;
        }
        if (failMask != 0) {
            stats.failedRequests++;
        } else if (completed && now >= run.windowStart && now < run.windowEnd) {
            stats.windowRequests++;
            stats.latency.recordValue(Math.max(1, (now - sentAt) / 1000));
        }
        s = S.IDLE;
        spec = null;
    }

    private void fail(int flag, String detail) {
        if ((failMask & flag) != 0) {
            return;
        }
        failMask |= flag;
        switch (flag) {
            case ERROR -> stats.errors++;
            case TIMEOUT -> stats.timeouts++;
            case WRONG_STATUS -> stats.wrongStatus++;
            case SHORT -> stats.shortBodies++;
            case LONG -> stats.longBodies++;
            case WRONG_BYTES -> stats.wrongBytes++;
            case WRONG_RANGE -> stats.wrongRange++;
            default -> throw new IllegalArgumentException("flag " + flag);
        }
        run.sample(detail);
    }

    private void onClosed(Channel c) {
        if (c != ch) {
            return;
        }
        releaseCum();
        ch = null;
        boolean error = false;
        if (s == S.EOF_BODY) {
            complete0AtEof();
        } else if (s != S.IDLE) {
            if (failMask == 0) {
                if (sawHead) {
                    fail(SHORT, "connection closed after " + bodyRead + " body bytes of " + spec.target());
                } else {
                    fail(ERROR, "connection closed before a response to " + spec.target());
                }
            }
            endExchange(false);
            error = true;
        }
        if (!done) {
            if (error) {
                loop.schedule(this::connect, 10, TimeUnit.MILLISECONDS); // no hot reconnect loop
            } else {
                connect();
            }
        }
    }

    private void complete0AtEof() {
        if (statusOk && spec.length() >= 0 && bodyRead < spec.length()) {
            fail(SHORT, "close-delimited body ended after " + bodyRead + " of " + spec.length() + " bytes: "
                    + spec.target());
        } else if (statusOk && spec.length() >= 0 && bodyRead > spec.length()) {
            fail(LONG, "close-delimited body of " + bodyRead + " bytes, expected " + spec.length());
        }
        endExchange(true);
    }

    private void onError(Channel c, Throwable cause) {
        if (c == ch && s != S.IDLE && failMask == 0) {
            if (sawHead) {
                fail(SHORT, "body of " + spec.target() + " broken after " + bodyRead + " bytes: " + cause);
            } else {
                fail(ERROR, cause + " (" + spec.target() + ")");
            }
        }
        c.close();
    }

    private void armTimeout(long delayNanos) {
        timeoutTask = loop.schedule(this::checkTimeout, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void checkTimeout() {
        timeoutTask = null;
        if (s == S.IDLE || ch == null) {
            return;
        }
        long idle = System.nanoTime() - lastProgress;
        if (idle >= run.timeoutNanos) {
            fail(TIMEOUT, "no progress for " + idle / 1_000_000 + " ms after " + bodyRead + " body bytes of "
                    + spec.target());
            ch.close();
        } else {
            armTimeout(run.timeoutNanos - idle);
        }
    }

    private void cancelTimeout() {
        if (timeoutTask != null) {
            timeoutTask.cancel(false);
            timeoutTask = null;
        }
    }

    private void finish() {
        if (done) {
            return;
        }
        done = true;
        cancelTimeout();
        if (ch != null) {
            ch.close();
        }
        run.slotDone();
    }

    private void releaseCum() {
        if (cum != null) {
            cum.release();
            cum = null;
        }
    }

    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ctx.channel() != ch) {
                ((ByteBuf) msg).release();
                return;
            }
            onRead((ByteBuf) msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            onClosed(ctx.channel());
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel() == ch && uploading) {
                pumpUpload();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            onError(ctx.channel(), cause);
        }
    }
}
