package dev.sluice.splice;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A test rig on 127.0.0.1: a blocking "source" peer connects to a Netty io_uring listener (accepted channel
 * {@link #a}, a blocking fd as Netty accepts it), and a Netty io_uring client channel {@link #b} on the same loop
 * connects to a blocking "sink" peer. Splicing a -> b moves the source's bytes to the sink; b -> a the other way.
 * Both Netty channels have AUTO_READ off and a {@link Recorder} that keeps whatever Netty itself reads.
 */
final class Rig implements AutoCloseable {
    /** One io_uring loop shared by all tests (created once, so fd baselines include its ring and eventfd). */
    static final MultiThreadIoEventLoopGroup GROUP =
            new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
    static final EventLoop LOOP = GROUP.next();
    static final ExecutorService PEERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "peer");
        t.setDaemon(true);
        return t;
    });
    static final InetAddress LOCALHOST = InetAddress.getLoopbackAddress();

    /** Options for a rig; small buffers make backpressure observable. */
    record Options(boolean halfClosureA, int socketBuffer) {
        static Options defaults() {
            return new Options(false, 0);
        }
    }

    final Channel server;
    final Channel a;
    final Channel b;
    final Socket source;
    final Socket sink;
    final ServerSocket sinkServer;
    final Recorder recA = new Recorder();
    final Recorder recB = new Recorder();

    private Rig(Options o) throws Exception {
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        ServerBootstrap sb = new ServerBootstrap()
                .group(GROUP)
                .channel(IoUringServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, o.halfClosureA())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(recA);
                        accepted.complete(ch);
                    }
                });
        if (o.socketBuffer() > 0) {
            sb.childOption(ChannelOption.SO_RCVBUF, o.socketBuffer());
            sb.option(ChannelOption.SO_RCVBUF, o.socketBuffer());
        }
        server = sb.bind(new InetSocketAddress(LOCALHOST, 0)).sync().channel();
        source = new Socket();
        if (o.socketBuffer() > 0) {
            source.setSendBufferSize(o.socketBuffer());
            source.setReceiveBufferSize(o.socketBuffer());
        }
        source.connect(server.localAddress(), 5000);
        source.setSoTimeout(30_000);
        a = accepted.get(5, TimeUnit.SECONDS);

        sinkServer = new ServerSocket();
        if (o.socketBuffer() > 0) {
            sinkServer.setReceiveBufferSize(o.socketBuffer());
        }
        sinkServer.bind(new InetSocketAddress(LOCALHOST, 0));
        Bootstrap cb = new Bootstrap()
                .group(LOOP)
                .channel(IoUringSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .handler(recB);
        if (o.socketBuffer() > 0) {
            cb.option(ChannelOption.SO_SNDBUF, o.socketBuffer());
        }
        b = cb.connect(sinkServer.getLocalSocketAddress()).sync().channel();
        sink = sinkServer.accept();
        sink.setSoTimeout(30_000);
        if (a.eventLoop() != LOOP || b.eventLoop() != LOOP) {
            throw new IllegalStateException("rig channels must share the loop");
        }
    }

    static Rig open() throws Exception {
        return new Rig(Options.defaults());
    }

    static Rig open(Options o) throws Exception {
        return new Rig(o);
    }

    static <T> T onLoop(Callable<T> c) {
        try {
            return LOOP.submit(c).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void onLoop(Runnable r) {
        onLoop(() -> {
            r.run();
            return null;
        });
    }

    /** Writes stream bytes [from, from + n) from {@code peer} on a peer thread. */
    static CompletableFuture<Void> send(Socket peer, long from, long n) {
        return CompletableFuture.runAsync(() -> {
            try {
                Bytes.write(peer.getOutputStream(), from, n, null);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, PEERS);
    }

    /** Reads and verifies stream bytes [from, from + n) at {@code peer}; completes with -1 or the mismatch. */
    static CompletableFuture<Long> receive(Socket peer, long from, long n) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return Bytes.readAndVerify(peer.getInputStream(), from, n);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, PEERS);
    }

    static long openFds() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        a.close().syncUninterruptibly();
        b.close().syncUninterruptibly();
        server.close().syncUninterruptibly();
        source.close();
        sink.close();
        sinkServer.close();
    }

    /** Keeps what Netty reads on a channel, so tests can prove a splice left nothing to Netty (or the reverse). */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final AtomicInteger reads = new AtomicInteger();
        volatile Throwable error;

        @Override
        public boolean isSharable() {
            return true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                synchronized (bytes) {
                    buf.readBytes(bytes, buf.readableBytes());
                }
                reads.incrementAndGet();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                buf.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            error = cause;
        }

        byte[] bytes() {
            synchronized (bytes) {
                return bytes.toByteArray();
            }
        }

        int size() {
            synchronized (bytes) {
                return bytes.size();
            }
        }
    }

    static ByteBuf buf(byte[] b) {
        return Unpooled.wrappedBuffer(b);
    }
}
