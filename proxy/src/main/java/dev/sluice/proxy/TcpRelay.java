package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.ListenerConfig;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * An L4 (mode = tcp) connection: raw bytes both ways between a client and a server of the listener's
 * upstream group, on the client's loop. Half-close is kept: when one side stops sending, the other
 * side's output is shut down once everything before it was written; the pair closes when both
 * directions are done, on a reset, or after the listener's idle timeout.
 */
final class TcpRelay {
    private static final System.Logger LOG = System.getLogger(TcpRelay.class.getName());

    private final ProxyContext proxy;
    private final ListenerConfig listener;
    private final Upstreams.Group group;
    private final ProxyMetrics.RouteMeters meters;
    private final AccessLog.Entry entry = new AccessLog.Entry();
    private final long startNanos = System.nanoTime();
    private final Side client;
    private Side server;
    private Upstreams.LoopGroup loopGroup;
    private int serverIndex = -1;
    private long tried;
    private long lastActivityNanos = startNanos;
    private ScheduledFuture<?> idleTimer;
    private boolean finished;

    TcpRelay(ProxyContext proxy, ListenerConfig listener, Upstreams.Group group, ProxyMetrics.RouteMeters meters) {
        this.proxy = proxy;
        this.listener = listener;
        this.group = group;
        this.meters = meters;
        this.client = new Side(true);
        entry.method = "TCP";
        entry.target = listener.name();
        entry.route = listener.name();
        entry.startMillis = System.currentTimeMillis();
    }

    /** The handler for the accepted client channel. */
    ChannelInboundHandlerAdapter clientHandler() {
        return client;
    }

    private void connect(Channel clientChannel) {
        loopGroup = proxy.loop(clientChannel.eventLoop()).group(group);
        int s = loopGroup.pick(tried);
        if (s < 0) {
            entry.reason = entry.reason.isEmpty() ? "no server of upstream '" + group.name + "' reachable" : entry.reason;
            finish();
            return;
        }
        serverIndex = s;
        if (s < 64) {
            tried |= 1L << s;
        }
        Side side = new Side(false);
        new Bootstrap().group(clientChannel.eventLoop())
                .channel(proxy.transports.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) group.connectTimeoutMillis)
                .handler(side)
                .connect(group.addresses[s])
                .addListener((ChannelFuture f) -> {
                    if (!f.isSuccess()) {
                        if (f.cause() instanceof io.netty.channel.ConnectTimeoutException) {
                            group.connectTimeout.increment();
                        } else {
                            group.connectRefused.increment();
                        }
                        entry.reason = Failure.fromUpstream(f.cause(), group.labels[s]).reason();
                        LOG.log(System.Logger.Level.WARNING, "tcp listener {0}: {1}", listener.name(), entry.reason);
                        if (!finished && client.channel.isActive()) {
                            connect(clientChannel); // next server
                        }
                        return;
                    }
                    group.connectOk.increment();
                    if (finished) {
                        f.channel().close();
                        return;
                    }
                    loopGroup.active[s]++;
                    server = side;
                    client.peer = server;
                    server.peer = client;
                    entry.upstream = group.labels[s];
                    client.channel.read();
                    server.channel.read();
                });
    }

    private void tick() {
        if (System.nanoTime() - lastActivityNanos > listener.idleTimeout().toNanos()) {
            entry.reason = "idle timeout after " + listener.idleTimeout();
            finish();
        }
    }

    private void finish() {
        if (finished) {
            return;
        }
        finished = true;
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        client.channel.close();
        if (server != null) {
            server.channel.close();
            loopGroup.active[serverIndex]--;
        }
        entry.durationMillis = (System.nanoTime() - startNanos) / 1e6;
        entry.bytesIn = client.bytesRead;
        entry.bytesOut = server == null ? 0 : server.bytesRead;
        entry.mechanism = ProxyMetrics.Mechanism.COPY.label;
        meters.bytesIn[ProxyMetrics.Mechanism.COPY.ordinal()].increment(client.bytesRead);
        if (server != null) {
            meters.bytesOut[ProxyMetrics.Mechanism.COPY.ordinal()].increment(server.bytesRead);
        }
        proxy.accessLog.log(entry);
    }

    /** One direction's source: bytes it reads go to its peer. */
    private final class Side extends ChannelInboundHandlerAdapter {
        final boolean isClient;
        Channel channel;
        Side peer;
        long bytesRead;
        boolean inputDone;
        private final ChannelFutureListener written = this::written;

        Side(boolean isClient) {
            this.isClient = isClient;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            channel = ctx.channel();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (isClient) {
                if (channel.remoteAddress() instanceof InetSocketAddress a) {
                    entry.client = a.getAddress().getHostAddress();
                }
                long period = Math.clamp(listener.idleTimeout().toMillis() / 4, 10, 1000);
                idleTimer = channel.eventLoop().scheduleAtFixedRate(TcpRelay.this::tick, period, period, TimeUnit.MILLISECONDS);
                connect(channel);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            lastActivityNanos = System.nanoTime();
            bytesRead += buf.readableBytes();
            if (peer == null || finished) {
                buf.release();
                return;
            }
            peer.channel.writeAndFlush(buf).addListener(written);
        }

        private void written(ChannelFuture f) {
            lastActivityNanos = System.nanoTime();
            if (!f.isSuccess()) {
                entry.reason = (isClient ? "upstream" : "client") + " write failed: " + f.cause();
                finish();
                return;
            }
            if (!inputDone) {
                channel.read(); // read after write: at most one buffer in flight per direction
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputDone = true;
                if (peer == null) {
                    finish();
                    return;
                }
                // half-close: pass the FIN on after everything read before it was written
                peer.channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
                    if (peer.channel instanceof DuplexChannel d && d.isActive()) {
                        d.shutdownOutput();
                    }
                    if (peer.inputDone) {
                        finish();
                    }
                });
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!finished && entry.reason.isEmpty() && !(inputDone && peer != null && peer.inputDone)) {
                entry.reason = (isClient ? "client" : "upstream") + " closed";
            }
            if (isClient || server == this) {
                finish();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            entry.reason = (isClient ? "client" : "upstream") + " error: " + cause;
            finish();
        }
    }
}
