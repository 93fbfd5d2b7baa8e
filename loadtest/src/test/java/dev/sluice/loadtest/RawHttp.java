package dev.sluice.loadtest;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A deliberately simple blocking HTTP/1.1 client for tests: bytes in, bytes out, no cleverness to hide bugs. */
final class RawHttp implements Closeable {
    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    RawHttp(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        socket.setSoTimeout(5000);
        socket.setTcpNoDelay(true);
        in = new java.io.BufferedInputStream(socket.getInputStream(), 1 << 16);
        out = socket.getOutputStream();
    }

    static String get(String target) {
        return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
    }

    RawHttp send(String s) throws IOException {
        return send(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    RawHttp send(byte[] b) throws IOException {
        out.write(b);
        out.flush();
        return this;
    }

    record Response(int status, String rawHead, List<String[]> headers, byte[] body, List<Integer> chunkSizes) {
        String header(String name) {
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    return h[1];
                }
            }
            return null;
        }

        int count(String name) {
            int n = 0;
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    n++;
                }
            }
            return n;
        }

        String text() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }
    }

    /** Reads one complete response (the body as framed; close-delimited reads to EOF). */
    Response read() throws IOException {
        return read(false);
    }

    Response read(boolean headRequest) throws IOException {
        String head = readHead();
        String[] lines = head.substring(0, head.length() - 4).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        List<String[]> headers = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            int c = lines[i].indexOf(':');
            headers.add(new String[] {lines[i].substring(0, c), lines[i].substring(c + 1).strip()});
        }
        Response tmp = new Response(status, head, headers, new byte[0], List.of());
        List<Integer> chunks = new ArrayList<>();
        byte[] body;
        String te = tmp.header("transfer-encoding");
        String cl = tmp.header("content-length");
        if (headRequest || status == 204 || status == 304) {
            body = new byte[0];
        } else if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            while (true) {
                String line = readLine();
                int semi = line.indexOf(';');
                int size = Integer.parseInt((semi < 0 ? line : line.substring(0, semi)).strip(), 16);
                if (size == 0) {
                    while (!readLine().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                chunks.add(size);
                bo.write(readN(size));
                if (!readLine().isEmpty()) {
                    throw new IOException("chunk data not followed by CRLF");
                }
            }
            body = bo.toByteArray();
        } else if (cl != null) {
            body = readN(Integer.parseInt(cl));
        } else {
            body = in.readAllBytes();
        }
        return new Response(status, head, headers, body, chunks);
    }

    String readHead() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("EOF in head after " + sb.length() + " bytes: " + sb);
            }
            sb.append((char) c);
        }
        return sb.toString();
    }

    String readLine() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("EOF in line: " + sb);
            }
            sb.append((char) c);
        }
        return sb.substring(0, sb.length() - 2);
    }

    byte[] readN(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new EOFException("wanted " + n + " bytes, got " + b.length);
        }
        return b;
    }

    /** What arrives until EOF or an error, and how it ended. */
    record Tail(byte[] bytes, IOException error) {}

    Tail readUntilEnd() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                bo.write(buf, 0, n);
            }
            return new Tail(bo.toByteArray(), null);
        } catch (IOException e) {
            return new Tail(bo.toByteArray(), e);
        }
    }

    int readByte() throws IOException {
        return in.read();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
