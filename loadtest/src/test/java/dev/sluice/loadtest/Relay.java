package dev.sluice.loadtest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A TCP relay for tests that can corrupt, rewrite or cut either direction of each connection it carries. */
final class Relay implements AutoCloseable {
    /**
     * Sees each read, may modify {@code buf[0..n)} in place; returns bytes to forward, or {@code -(k+1)} to
     * forward k bytes and then cut the link.
     */
    interface Tamper {
        int apply(long streamPos, byte[] buf, int n);
    }

    static final Tamper NONE = (pos, buf, n) -> n;

    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    Relay(int targetPort, Tamper request, Tamper response) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket down = server.accept();
                    Socket up = new Socket();
                    up.connect(new InetSocketAddress("127.0.0.1", targetPort));
                    sockets.add(down);
                    sockets.add(up);
                    pump(down, up, request);
                    pump(up, down, response);
                } catch (IOException e) {
                    return;
                }
            }
        }, "relay-accept");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private static void pump(Socket from, Socket to, Tamper tamper) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16384];
            long pos = 0;
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    int fwd = tamper.apply(pos, buf, n);
                    pos += n;
                    if (fwd < 0) {
                        out.write(buf, 0, -(fwd + 1));
                        break;
                    }
                    out.write(buf, 0, fwd);
                }
            } catch (IOException e) {
                // the other side went away
            } finally {
                close(from);
                close(to);
            }
        }, "relay-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // ignore
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        sockets.forEach(Relay::close);
    }
}
