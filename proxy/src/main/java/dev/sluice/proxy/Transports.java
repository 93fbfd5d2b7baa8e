package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * Chooses the event-loop transport: io_uring, else epoll, else NIO, keeping why the better ones were
 * not used so start-up can log it once.
 */
record Transports(Transport kind, IoHandlerFactory ioHandlerFactory, Class<? extends ServerChannel> serverChannel,
        Class<? extends SocketChannel> socketChannel, String why) {

    static final String MULTISHOT_POLL = "io.netty.iouring.pollAddMultishotEnabled";
    static final String MULTISHOT_ACCEPT = "io.netty.iouring.acceptMultiShotEnabled";

    static {
        // A multishot accept ends when accepting fails (EMFILE when fds run out, which fails at once whether or
        // not a client waits), and Netty's io_uring channel re-arms an ended multishot read at once whatever
        // auto-read says: a listener out of fds cannot pause, its loop spins on the failing accept. A single-shot
        // accept is re-armed only when auto-read asks for it, which lets ConnectionLimit back off; it costs one
        // submission per accepted connection. Netty reads this once, when its io_uring classes initialize.
        if (System.getProperty(MULTISHOT_ACCEPT) == null) {
            System.setProperty(MULTISHOT_ACCEPT, "false");
        }
        // Netty's multishot POLLIN stays armed while a splice owns the socket; after a failed splice the
        // channel's close then waits for a completion that never comes (measured: the client never saw
        // the FIN). Netty reads this once, when its io_uring classes initialize, so set it before that
        // unless the operator chose explicitly.
        if (System.getProperty(MULTISHOT_POLL) == null) {
            System.setProperty(MULTISHOT_POLL, "false");
        }
    }

    /** False when the operator turned Netty's multishot POLLIN on, which splicing cannot live with. */
    static boolean spliceCompatible() {
        return !Boolean.parseBoolean(System.getProperty(MULTISHOT_POLL));
    }

    /** False when the operator turned Netty's multishot accept on, with which a failing accept cannot back off. */
    static boolean acceptBackoffCompatible() {
        return !Boolean.parseBoolean(System.getProperty(MULTISHOT_ACCEPT));
    }

    /** io_uring and epoll give each loop its own SO_REUSEPORT listener socket; NIO shares one. */
    boolean reusePort() {
        return kind != Transport.NIO;
    }

    void setReusePort(ServerBootstrap b) {
        switch (kind) {
            case IO_URING -> b.option(IoUringChannelOption.SO_REUSEPORT, true);
            case EPOLL -> b.option(EpollChannelOption.SO_REUSEPORT, true);
            default -> { }
        }
    }

    String name() {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }

    static Transports select(Transport requested) {
        StringBuilder why = new StringBuilder();
        if (requested == Transport.AUTO || requested == Transport.IO_URING) {
            if (IoUring.isAvailable()) {
                return ioUring(requested == Transport.AUTO ? "io_uring available" : "configured");
            }
            why.append("io_uring unavailable: ").append(IoUring.unavailabilityCause());
        } else {
            why.append("configured transport = ").append(requested.name().toLowerCase(java.util.Locale.ROOT));
        }
        if (requested != Transport.NIO) {
            if (Epoll.isAvailable()) {
                return new Transports(Transport.EPOLL, EpollIoHandler.newFactory(), EpollServerSocketChannel.class,
                        EpollSocketChannel.class, why.toString());
            }
            why.append("; epoll unavailable: ").append(Epoll.unavailabilityCause());
        }
        return new Transports(Transport.NIO, NioIoHandler.newFactory(), NioServerSocketChannel.class,
                NioSocketChannel.class, why.toString());
    }

    private static Transports ioUring(String why) {
        return new Transports(Transport.IO_URING, IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
                IoUringSocketChannel.class, why);
    }
}
