package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.ListenerConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import java.net.InetSocketAddress;

/**
 * An L4 (mode = tcp) connection: raw bytes both ways between a client and a server of the listener's
 * upstream group, on the client's loop. Half-close is kept: when one side stops sending, the other
 * side's output is shut down once everything before it was written; the pair closes when both
 * directions are done, on a reset, or after the listener's idle timeout.
 */
final class TcpRelay {

    private final ProxyContext proxy;
    private final ListenerConfig listener;
    /** The listener's upstream group in the loop's generation when the client connected; kept to the relay's end. */
    private Upstreams.Group group;
    private final ProxyMetrics.RouteMeters meters;
    private final AccessLog.Entry entry = new AccessLog.Entry();
    private final long startNanos = System.nanoTime();
    private final Side client;
    private Side server;
    private ServerAttempts servers;
    private LoopContext loop;
    /** The server connected to, or -1. */
    private int serverIndex = -1;
    private long lastActivityNanos = startNanos;
    private boolean finished;
    private long lastSplicedTotal;
    /** Pumps being cancelled; the sockets close only when this reaches zero. */
    private int pendingCancels;

    TcpRelay(ProxyContext proxy, ListenerConfig listener, ProxyMetrics.RouteMeters meters) {
        this.proxy = proxy;
        this.listener = listener;
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
        if (servers == null) {
            loop = proxy.loop(clientChannel.eventLoop());
            loop.relays.add(this);
            group = loop.generation.groups.get(listener.upstream());
            servers = new ServerAttempts(loop.group(group));
        }
        int s = servers.next();
        if (s < 0) {
            entry.reason = servers.exhausted().reason();
            finish();
            return;
        }
        Side side = new Side(false);
        servers.connect(clientChannel.eventLoop(), proxy.transports, side, ReadSizes.bulk(), true)
                .addListener((ChannelFuture f) -> {
                    if (!f.isSuccess()) {
                        entry.reason = servers.failed(s, f.cause(), " (tcp listener " + listener.name() + ")").reason();
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
                    servers.group.active[s]++;
                    serverIndex = s;
                    server = side;
                    client.peer = server;
                    server.peer = client;
                    entry.upstream = group.labels[s];
                    client.start();
                    server.start();
                });
    }

    /**
     * From the loop's watchdog ({@link LoopContext#tick}), which walks this loop's relays: a relay has no timer of its
     * own. Idle is judged for the pair, not per direction: one side may rightly be quiet for long.
     */
    void tick(long now) {
        if (finished) {
            return; // pumps being cancelled; release() takes it off the loop
        }
        long moved = client.splicedNow() + (server == null ? 0 : server.splicedNow());
        if (moved != lastSplicedTotal) {
            lastSplicedTotal = moved;
            lastActivityNanos = now;
        }
        if (now - lastActivityNanos > listener.idleTimeout().toNanos()) {
            entry.reason = "idle timeout after " + listener.idleTimeout();
            finish();
        }
    }

    /** Sluice is stopping: end the relay (pumps cancelled and awaited before the sockets close). */
    void stop() {
        if (!finished) {
            entry.reason = "Sluice stopped";
            finish();
        }
    }

    private void finish() {
        if (finished) {
            return;
        }
        finished = true;
        // a pump still in flight refers to both fds: close only once the kernel let go of them
        if (client.cancelPump()) {
            pendingCancels++;
        }
        if (server != null && server.cancelPump()) {
            pendingCancels++;
        }
        if (pendingCancels == 0) {
            release();
        }
    }

    private void release() {
        if (loop != null) {
            loop.relays.remove(this);
        }
        client.channel.close();
        if (server != null) {
            server.channel.close();
            servers.group.active[serverIndex]--;
        }
        entry.durationMillis = (System.nanoTime() - startNanos) / 1e6;
        entry.bytesIn = client.bytesRead + client.spliced;
        entry.bytesOut = server == null ? 0 : server.bytesRead + server.spliced;
        entry.mechanism = (client.spliced + (server == null ? 0 : server.spliced)) > 0
                ? ProxyMetrics.Mechanism.SPLICE.label : ProxyMetrics.Mechanism.COPY.label;
        count(meters.bytesIn, client);
        if (server != null) {
            count(meters.bytesOut, server);
        }
        proxy.accessLog.log(entry);
    }

    private static void count(io.micrometer.core.instrument.Counter[] byMechanism, Side s) {
        if (s.spliced > 0) {
            byMechanism[ProxyMetrics.Mechanism.SPLICE.ordinal()].increment(s.spliced);
        }
        if (s.bytesRead > 0) {
            byMechanism[ProxyMetrics.Mechanism.COPY.ordinal()].increment(s.bytesRead);
        }
    }

    /** One direction's source: bytes it reads go to its peer. */
    private final class Side extends ChannelInboundHandlerAdapter {
        final boolean isClient;
        Channel channel;
        Side peer;
        /** Bytes read through Netty (copied) from this side. */
        long bytesRead;
        /** Bytes spliced from this side to its peer, by finished pumps. */
        long spliced;
        boolean inputDone;
        /** The splice pump reading this side, while it runs. */
        dev.sluice.splice.SpliceTransfer pump;
        private final ChannelFutureListener written = this::written;

        Side(boolean isClient) {
            this.isClient = isClient;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            if (!isClient && group.congestion != null) {
                group.congestion.apply(channel); // registered, not yet connected
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (isClient) {
                if (channel.remoteAddress() instanceof InetSocketAddress a) {
                    entry.client = a.getAddress().getHostAddress();
                }
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

        /** Both ends connected: splice this side's bytes to the peer if possible, else copy them. */
        void start() {
            LoopContext lc = proxy.loop(channel.eventLoop());
            if (listener.zeroCopy() != dev.sluice.conf.SluiceConfig.ZeroCopy.COPY && lc.zeroCopyForced != null) {
                // idle is judged for the pair (tick), not per direction: one side may rightly be quiet for long
                pump = lc.zeroCopyForced.pump(channel, peer.channel, this::pumped);
                if (pump != null) {
                    return;
                }
            }
            channel.read();
        }

        long splicedNow() {
            return spliced + (pump == null ? 0 : pump.bytesMoved());
        }

        boolean cancelPump() {
            if (pump == null) {
                return false;
            }
            pump.cancel();
            return true;
        }

        /** The pump ended: EOF passed on (the splicer shut the peer's output down), or a failure. */
        private void pumped(long moved, dev.sluice.splice.SpliceOutcome outcome, Throwable cause) {
            pump = null;
            spliced += moved;
            lastActivityNanos = System.nanoTime();
            if (finished) {
                if (--pendingCancels == 0) {
                    release();
                }
                return;
            }
            if (outcome == dev.sluice.splice.SpliceOutcome.REFUSED) {
                channel.read(); // nothing moved: copy this direction instead
                return;
            }
            if (outcome != dev.sluice.splice.SpliceOutcome.COMPLETED) {
                entry.reason = (isClient ? "client to upstream" : "upstream to client") + " splice ended: " + cause.getMessage();
                finish();
                return;
            }
            inputDone = true;
            if (peer.inputDone) {
                finish();
            }
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
