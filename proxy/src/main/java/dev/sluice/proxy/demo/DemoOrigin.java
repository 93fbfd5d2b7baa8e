package dev.sluice.proxy.demo;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The origin of {@code sluice}'s built-in demo: synthetic objects of any size whose bytes derive from the path, so a
 * body fetched through the proxy can be compared with one fetched from the origin. Only what the demo and the
 * README's tour use; the benchmark's origin ({@code loadtest/}, with faults, pacing and ranges) is not part of the
 * product.
 *
 * <p>Any path; query parameters: {@code size=N} (suffix k/m/g/t, default 1024), {@code chunked=1},
 * {@code status=NNN}, {@code cc=} (Cache-Control), {@code etag=} (an {@code If-None-Match} naming it gives 304),
 * {@code echo=1} (the body is the request head as decoded), {@code hdr=Name:Value} (a response field, repeatable: the
 * README's admin example tags an entry with {@code hdr=Surrogate-Key:videos}). A PUT or POST body of any size is streamed, never kept:
 * the answer is 201 with {@code X-Received-Bytes} and {@code X-Received-SHA256}, to compare with the file sent.
 * HEAD gets GET's head. Every response carries {@code X-Origin: demo-origin}.
 *
 * <p>Runs on one NIO event loop of its own (a daemon thread), nothing shared with the proxy's loops.
 */
public final class DemoOrigin implements AutoCloseable {
    static final int PIECE = 64 * 1024;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final EventLoopGroup group;
    private final Channel server;

    private DemoOrigin(EventLoopGroup group, Channel server) {
        this.group = group;
        this.server = server;
    }

    /** Binds {@code host:port} (port 0 = ephemeral) and starts serving; bound when this returns. */
    public static DemoOrigin start(String host, int port) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("demo-origin", true),
                NioIoHandler.newFactory());
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpServerExpectContinueHandler(),
                                    new ChunkedWriteHandler(), new Handler());
                        }
                    })
                    .bind(host, port).syncUninterruptibly().channel();
            return new DemoOrigin(group, server);
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Stops listening and closes every connection. */
    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Byte {@code offset} of the body of {@code path}: byte {@code offset & 7} (little-endian) of the word it is in. */
    static byte byteAt(String path, long offset) {
        return (byte) (word(seed(path), offset >>> 3) >>> ((offset & 7) * 8));
    }

    static long seed(String path) {
        long h = 0xcbf29ce484222325L; // FNV-1a 64 over the path's bytes
        for (byte b : path.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    /** splitmix64 of the word's index: no word repeats within a body, so a misplaced piece shows. */
    static long word(long seed, long index) {
        long z = seed + (index + 1) * GOLDEN;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code 1024}, {@code 64k}, {@code 1m}, {@code 2g}, {@code 1t} (powers of 1024). */
    static long size(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        long n = Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1));
        if (n < 0 || n > (Long.MAX_VALUE >> shift)) {
            throw new NumberFormatException("size out of range: " + s);
        }
        return n << shift;
    }

    /** One connection: requests answered in order, bodies streamed in pieces while the channel is writable. */
    private static final class Handler extends SimpleChannelInboundHandler<HttpObject> {
        private HttpRequest request;
        private MessageDigest upload; // set while a PUT/POST body arrives
        private long uploaded;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg.decoderResult().isFailure()) {
                HttpResponse bad = response(HttpResponseStatus.BAD_REQUEST, "text/plain");
                bad.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                write(ctx, bad, "bad request: " + msg.decoderResult().cause() + "\n", false);
                return;
            }
            if (msg instanceof HttpRequest r) {
                request = r;
                upload = r.method().equals(HttpMethod.PUT) || r.method().equals(HttpMethod.POST) ? sha256() : null;
                uploaded = 0;
            }
            if (msg instanceof HttpContent c && upload != null) {
                ByteBuf b = c.content();
                uploaded += b.readableBytes();
                upload.update(b.nioBuffer());
            }
            if (msg instanceof LastHttpContent && request != null) {
                HttpRequest r = request;
                request = null;
                try {
                    respond(ctx, r);
                } catch (IllegalArgumentException e) { // NumberFormatException included
                    write(ctx, response(HttpResponseStatus.BAD_REQUEST, "text/plain"), e.getMessage() + "\n",
                            HttpUtil.isKeepAlive(r));
                }
            }
        }

        private void respond(ChannelHandlerContext ctx, HttpRequest r) {
            QueryStringDecoder q = new QueryStringDecoder(r.uri());
            Map<String, List<String>> p = q.parameters();
            boolean keepAlive = HttpUtil.isKeepAlive(r);
            if (upload != null) {
                String sha = HexFormat.of().formatHex(upload.digest());
                upload = null;
                HttpResponse res = response(HttpResponseStatus.CREATED, "text/plain");
                res.headers().set("X-Received-Bytes", uploaded).set("X-Received-SHA256", sha);
                write(ctx, res, "received " + uploaded + " bytes, sha256 " + sha + "\n", keepAlive);
                return;
            }
            if ("1".equals(one(p, "echo"))) {
                StringBuilder head = new StringBuilder().append(r.method()).append(' ').append(r.uri()).append(' ')
                        .append(r.protocolVersion()).append("\r\n");
                r.headers().forEach(h -> head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n"));
                write(ctx, response(HttpResponseStatus.OK, "text/plain"), head.append("\r\n").toString(), keepAlive);
                return;
            }
            String status = one(p, "status");
            HttpResponse res = response(HttpResponseStatus.valueOf(status == null ? 200 : Integer.parseInt(status)),
                    "application/octet-stream");
            String cc = one(p, "cc");
            if (cc != null) {
                res.headers().set(HttpHeaderNames.CACHE_CONTROL, cc);
            }
            for (String h : p.getOrDefault("hdr", List.of())) {
                int colon = h.indexOf(':');
                if (colon <= 0 || !TOKEN.matcher(h.substring(0, colon)).matches()
                        || !FIELD_VALUE.matcher(h.substring(colon + 1)).matches()) {
                    throw new IllegalArgumentException("hdr must be Name:Value: " + h);
                }
                res.headers().add(h.substring(0, colon), h.substring(colon + 1).strip());
            }
            String etag = one(p, "etag");
            if (etag != null) {
                etag = etag.startsWith("\"") || etag.startsWith("W/") ? etag : '"' + etag + '"';
                res.headers().set(HttpHeaderNames.ETAG, etag);
                String inm = r.headers().get(HttpHeaderNames.IF_NONE_MATCH);
                if (inm != null && matches(inm, etag)) {
                    res.setStatus(HttpResponseStatus.NOT_MODIFIED);
                }
            }
            int code = res.status().code();
            boolean body = code != 204 && code != 304 && code >= 200;
            String s = one(p, "size");
            long length = body ? (s == null ? 1024 : size(s)) : 0;
            boolean chunked = body && "1".equals(one(p, "chunked"));
            if (chunked) {
                HttpUtil.setTransferEncodingChunked(res, true);
            } else if (body) {
                HttpUtil.setContentLength(res, length);
            }
            HttpUtil.setKeepAlive(res, keepAlive);
            ctx.write(res);
            Object rest = !body || r.method().equals(HttpMethod.HEAD) ? LastHttpContent.EMPTY_LAST_CONTENT
                    : new HttpChunkedInput(new Generated(q.rawPath(), length));
            ctx.writeAndFlush(rest).addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE
                    : ChannelFutureListener.CLOSE);
        }

        private static void write(ChannelHandlerContext ctx, HttpResponse res, String text, boolean keepAlive) {
            ByteBuf b = Unpooled.copiedBuffer(text, StandardCharsets.UTF_8);
            HttpUtil.setContentLength(res, b.readableBytes());
            HttpUtil.setKeepAlive(res, keepAlive);
            ctx.write(res);
            ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultLastHttpContent(b))
                    .addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
        }

        private static HttpResponse response(HttpResponseStatus status, String contentType) {
            HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType).set("X-Origin", "demo-origin");
            return res;
        }

        /** Weak comparison (RFC 9110 13.1.2): a list of tags, or {@code *}. */
        private static boolean matches(String ifNoneMatch, String etag) {
            String tag = etag.startsWith("W/") ? etag.substring(2) : etag;
            for (String t : ifNoneMatch.split(",")) {
                String v = t.strip();
                if (v.equals("*") || (v.startsWith("W/") ? v.substring(2) : v).equals(tag)) {
                    return true;
                }
            }
            return false;
        }

        private static final java.util.regex.Pattern TOKEN = java.util.regex.Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
        private static final java.util.regex.Pattern FIELD_VALUE = java.util.regex.Pattern.compile("[\\t\\x20-\\x7e]*");

        private static String one(Map<String, List<String>> p, String name) {
            List<String> v = p.get(name);
            return v == null || v.isEmpty() ? null : v.getFirst();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a client that left; the demo has nothing to report
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** The body of a path, generated a piece at a time as the channel takes it. */
    private static final class Generated implements ChunkedInput<ByteBuf> {
        private final long seed;
        private final long length;
        private long offset;

        Generated(String path, long length) {
            this.seed = seed(path);
            this.length = length;
        }

        @Override
        public ByteBuf readChunk(ByteBufAllocator alloc) {
            if (offset >= length) {
                return null;
            }
            int n = (int) Math.min(PIECE, length - offset);
            ByteBuf b = alloc.buffer(n + 8);
            // offset is a multiple of 8 here (pieces are), so each piece starts on a word
            for (long w = offset >>> 3, end = (offset + n + 7) >>> 3; w < end; w++) {
                b.writeLongLE(word(seed, w));
            }
            b.writerIndex(n);
            offset += n;
            return b;
        }

        @Override
        @Deprecated
        public ByteBuf readChunk(ChannelHandlerContext ctx) {
            return readChunk(ctx.alloc());
        }

        @Override
        public boolean isEndOfInput() {
            return offset >= length;
        }

        @Override
        public void close() {}

        @Override
        public long length() {
            return length;
        }

        @Override
        public long progress() {
            return offset;
        }
    }
}
