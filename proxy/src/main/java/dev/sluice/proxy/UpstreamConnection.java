package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** A connection to one upstream server, bound to the loop of the client connection that made it. */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {
    Channel channel;
    final Upstreams.LoopGroup group;
    final int server;
    /** Who reads this connection now (an exchange, or a fill storing its body); null while idle in the pool. */
    User user;
    long idleSinceNanos;

    private boolean counted;

    /** What uses a connection taken from the pool: it gets the bytes read and hears of the close. */
    interface User {
        void upstreamRead(ByteBuf buf);

        void upstreamClosed(UpstreamConnection c);
    }

    UpstreamConnection(Upstreams.LoopGroup group, int server) {
        this.group = group;
        this.server = server;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        // A read is armed whenever this connection must see the server leave: in the pool (idle()) and while a
        // response head is awaited. Netty's POLLRDHUP adds nothing, so splices leave it off.
        ZeroCopy.ownerWatchesHangup(channel);
        if (group.group.congestion != null) {
            group.group.congestion.apply(channel); // registered, not yet connected
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        counted = true;
        group.group.open.incrementAndGet();
    }

    /**
     * Back to the pool: a read stays armed so a FIN (or stray bytes) on the idle socket is noticed, into a fresh head
     * buffer (whatever the last user read into).
     */
    void idle() {
        user = null;
        ReadSizes.head(channel);
        channel.read();
    }

    String label() {
        return group.group.labels[server];
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (user != null) {
            user.upstreamRead((ByteBuf) msg);
        } else {
            // bytes on an idle keep-alive connection: the server broke framing; never reuse it
            int n = ((ByteBuf) msg).readableBytes();
            ((ByteBuf) msg).release();
            group.remove(server, this);
            group.group.surplus(label(), n + " bytes on an idle pooled connection");
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (counted) {
            counted = false;
            group.group.open.decrementAndGet();
        }
        if (user != null) {
            User u = user;
            user = null;
            u.upstreamClosed(this);
        } else {
            group.remove(server, this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // reset by peer and the like (or a bug, logged): channelInactive follows and tells the exchange
        HandlerErrors.caught("upstream connection " + label(), cause);
        ctx.close();
    }
}
