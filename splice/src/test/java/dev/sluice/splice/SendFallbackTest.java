package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.uring.IoUringDomainSocketChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Where a zero-copy send cannot be used it is a {@link SendMechanism#WRITE}, counted with its reason, and the bytes
 * still arrive: a channel that is not an io_uring TCP socket (a Unix domain socket on the same io_uring loop), a
 * loop the splicer cannot use (NIO), and a store without an fd (heap; see also {@link ExtentSendTest}).
 */
class SendFallbackTest extends LoopTestBase {
    private static final long LEN = 300_000;
    private static final long POS = 777;

    private Extent extent(boolean heap) {
        ShmBuilder b = ShmBuilder.newBuilder().totalBytes(4L << 20).loops(1).populate(false)
                .lockPolicy(LockPolicy.OFF).name("fallback-test");
        Store store = track(heap ? b.heap().build() : b.build()).store(0);
        return ExtentSendTest.filled(store, POS + LEN);
    }

    private void assertWrittenInstead(SendMechanism asked, FallbackReason why, Splicer s, Outcome o) throws Exception {
        Outcome.Result r = o.await();
        assertNull(r.cause());
        assertEquals(LEN, r.moved());
        EventLoop loop = s.eventLoop();
        assertEquals(why, loop.submit(s::lastFallbackReason).get());
        assertEquals(1, metrics.fallbacks(why));
        assertEquals(1, metrics.fallbacksTotal());
        assertEquals(LEN, metrics.sendBytes(SendMechanism.WRITE));
        assertEquals(1, metrics.sends(SendMechanism.WRITE));
        assertEquals(0, metrics.sends(asked));
        assertEquals(0, metrics.sendBytes(asked));
    }

    @ParameterizedTest
    @EnumSource(value = SendMechanism.class, names = {"SENDFILE", "SPLICE", "SEND_ZC"})
    void send_toAUnixDomainSocketOnTheIoUringLoop_writtenAndCountedAsChannel(SendMechanism mechanism)
            throws Exception {
        splicer();
        Extent e = extent(false);
        Path dir = Files.createTempDirectory("sluice-fallback");
        Path path = dir.resolve("peer.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(path));
            Channel ch = new Bootstrap().group(Rig.LOOP).channel(IoUringDomainSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false).handler(new ChannelInboundHandlerAdapter())
                    .connect(new DomainSocketAddress(path.toString())).sync().channel();
            try (SocketChannel peer = server.accept()) {
                Outcome o = new Outcome();
                Rig.onLoop(() -> splicer.send(e, POS, LEN, ch, mechanism, 0, o));

                InputStream in = Channels.newInputStream(peer);
                // (on a pool thread: a send that never comes fails the test at the timeout, and closing peer ends it)
                assertEquals(-1L, CompletableFuture.supplyAsync(() -> {
                    try {
                        return Bytes.readAndVerify(in, POS, LEN);
                    } catch (IOException ex) {
                        throw new UncheckedIOException(ex);
                    }
                }, Rig.PEERS).get(10, TimeUnit.SECONDS));
                assertWrittenInstead(mechanism, FallbackReason.CHANNEL, splicer, o);
                assertNull(Splicer.congestionControl(ch), "a Unix domain socket has no congestion control");
            } finally {
                ch.close().sync();
            }
        } finally {
            Files.deleteIfExists(path);
            Files.delete(dir);
        }
        awaitReleased(e);
        e.free();
    }

    @Test
    void send_sendfileOnANioLoop_writtenAndCountedAsUnavailable() throws Exception {
        Extent e = extent(false);
        MultiThreadIoEventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ServerSocket server = new ServerSocket(0, 1, Rig.LOCALHOST)) {
            EventLoop loop = nio.next();
            Splicer s = loop.submit(() -> Splicer.forLoop(loop, SpliceSettings.defaults(), metrics)).get();
            Channel ch = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(server.getLocalSocketAddress()).sync().channel();
            try (Socket peer = server.accept()) {
                Outcome o = new Outcome();
                loop.submit(() -> s.send(e, POS, LEN, ch, SendMechanism.SENDFILE, 0, o)).get();

                assertEquals(-1L, Bytes.readAndVerify(peer.getInputStream(), POS, LEN));
                assertWrittenInstead(SendMechanism.SENDFILE, FallbackReason.UNAVAILABLE, s, o);
                assertNull(Splicer.congestionControl(ch), "NIO channels have no fd to ask");
            } finally {
                ch.close().sync();
            }
        } finally {
            nio.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        awaitReleased(e);
        e.free();
    }

    @Test
    void send_sendfileFromAHeapStore_writtenAndCountedAsNoZeroCopySource() throws Exception {
        splicer();
        Rig rig = rig();
        Extent e = extent(true);
        var got = Rig.receive(rig.sink, POS, LEN);
        Outcome o = new Outcome();

        Rig.onLoop(() -> splicer.send(e, POS, LEN, rig.b, SendMechanism.SENDFILE, 0, o));

        assertEquals(-1L, got.get(10, TimeUnit.SECONDS));
        assertWrittenInstead(SendMechanism.SENDFILE, FallbackReason.NO_ZERO_COPY_SOURCE, splicer, o);
        awaitReleased(e);
        e.free();
    }

    private static void awaitReleased(Extent e) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (e.refCnt() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, e.refCnt(), "extent references after the send");
    }
}
