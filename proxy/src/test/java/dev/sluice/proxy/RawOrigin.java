package dev.sluice.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An origin that answers with exactly the bytes a test scripts, to play a broken or hostile server. It reads
 * requests the way a plain HTTP/1.1 server does (head up to the blank line, then a Content-Length or chunked body),
 * one after another on each connection, so bytes a proxy forwards beyond a request's framing are read as the next
 * request, as a real origin would. Every request head it read is recorded.
 */
final class RawOrigin implements AutoCloseable {
    /** What the origin does with one request; {@code conn} counts connections from 0, {@code index} requests on it. */
    interface Script {
        void answer(Exchange x) throws Exception;
    }

    /** One request as the origin read it, and the connection to answer on. */
    static final class Exchange {
        final int conn;
        final int index;
        final String head;
        final byte[] body;
        /** The trailer section of a chunked request body, one field line per element. */
        final List<String> trailers;
        final OutputStream out;
        final Socket socket;

        Exchange(int conn, int index, String head, Body body, Socket socket) throws IOException {
            this.conn = conn;
            this.index = index;
            this.head = head;
            this.body = body.bytes;
            this.trailers = body.trailers;
            this.socket = socket;
            this.out = socket.getOutputStream();
        }

        String path() {
            int sp = head.indexOf(' ');
            return head.substring(sp + 1, head.indexOf(' ', sp + 1));
        }

        String header(String name) {
            return RawOrigin.header(head, name);
        }

        void send(String raw) throws IOException {
            out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        /** A 200 with a Content-Length body. */
        void ok(String body) throws IOException {
            send("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
        }
    }

    private final ServerSocket server;
    private final Script script;
    private final AtomicInteger connections = new AtomicInteger();
    final List<String> heads = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    RawOrigin(Script script) throws IOException {
        this.script = script;
        this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("raw-origin-accept").start(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    int connections() {
        return connections.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                sockets.add(s);
                int n = connections.getAndIncrement();
                Thread.ofVirtual().name("raw-origin-" + n).start(() -> serve(s, n));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s, int conn) {
        try (s) {
            InputStream in = s.getInputStream();
            for (int i = 0; ; i++) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                heads.add(head);
                Body body = readBody(in, head);
                script.answer(new Exchange(conn, i, head, body, s));
                if (s.isClosed() || s.isOutputShutdown()) {
                    return;
                }
            }
        } catch (Exception e) {
            // the peer went away or the script closed the socket: the test judges by what the client saw
        }
    }

    /** The head up to and including the blank line, or null at end of stream. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        int state = 0; // bytes of "\r\n\r\n" matched
        while ((c = in.read()) >= 0) {
            b.write(c);
            if (b.size() == 2 && state == 0 && c == '\n' && b.toByteArray()[0] == '\r') {
                b.reset(); // an empty line before a request line
                continue;
            }
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : (c == '\r' ? 1 : 0);
            if (state == 4) {
                return b.toString(StandardCharsets.ISO_8859_1);
            }
        }
        return null;
    }

    private record Body(byte[] bytes, List<String> trailers) {}

    private static Body readBody(InputStream in, String head) throws IOException {
        String te = header(head, "Transfer-Encoding");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                String line = line(in);
                int semi = line.indexOf(';');
                long size = Long.parseLong((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
                if (size == 0) {
                    List<String> trailers = new java.util.ArrayList<>();
                    for (String t = line(in); !t.isEmpty(); t = line(in)) {
                        trailers.add(t);
                    }
                    return new Body(b.toByteArray(), trailers);
                }
                byte[] data = in.readNBytes((int) size);
                if (data.length < size) {
                    throw new java.io.EOFException("chunk ended early");
                }
                b.write(data);
                line(in);
            }
        }
        String cl = header(head, "Content-Length");
        int length = cl == null ? 0 : Integer.parseInt(cl.trim());
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            throw new java.io.EOFException("body ended after " + body.length + " of " + length + " bytes");
        }
        return new Body(body, List.of());
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                throw new IOException("end of stream in a line");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    static String header(String head, String name) {
        for (String l : head.split("\r\n")) {
            int c = l.indexOf(':');
            if (c > 0 && l.substring(0, c).equalsIgnoreCase(name)) {
                return l.substring(c + 1).trim();
            }
        }
        return null;
    }

    /** A Fixture config with one route to this origin. */
    String config(String extra) {
        return Fixture.simple("sluice.upstreams.origin.servers = [\"127.0.0.1:" + port() + "\"]\n" + extra);
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
