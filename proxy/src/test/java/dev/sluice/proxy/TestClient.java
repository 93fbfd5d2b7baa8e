package dev.sluice.proxy;

import dev.sluice.loadtest.Payload;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A deliberately plain HTTP/1.1 client over a blocking socket, so tests see exactly what went over the wire. */
final class TestClient implements AutoCloseable {
    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    TestClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(20_000);
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
        out = socket.getOutputStream();
    }

    /** The buffered input (what follows a head read with {@link #readHeadOnly}). */
    InputStream input() {
        return in;
    }

    TestClient send(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return this;
    }

    TestClient send(byte[] raw) throws IOException {
        out.write(raw);
        out.flush();
        return this;
    }

    /** Writes {@code length} payload bytes of {@code path} (what the origin verifies PUT bodies against). */
    TestClient sendPayload(String path, long offset, long length) throws IOException {
        long seed = Payload.seed(path);
        byte[] buf = new byte[1 << 16];
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(buf.length, length - done);
            Payload.fill(seed, offset + done, buf, 0, n);
            out.write(buf, 0, n);
            done += n;
        }
        out.flush();
        return this;
    }

    static final class Response {
        int status;
        String statusLine;
        final List<String> names = new ArrayList<>();
        final List<String> values = new ArrayList<>();
        byte[] body;
        /** Trailer field lines of a chunked body, as received. */
        final List<String> trailers = new ArrayList<>();
        long bodyLength;
        /** First wrong byte's offset when verified against a path's payload, -1 if all right. */
        long firstMismatch = -1;
        boolean truncated;

        String header(String name) {
            for (int i = 0; i < names.size(); i++) {
                if (names.get(i).equalsIgnoreCase(name)) {
                    return values.get(i);
                }
            }
            return null;
        }

        int count(String name) {
            int n = 0;
            for (String s : names) {
                if (s.equalsIgnoreCase(name)) {
                    n++;
                }
            }
            return n;
        }

        String bodyText() {
            return body == null ? "" : new String(body, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return statusLine + " " + names + " body=" + bodyLength + (body != null && body.length < 512 ? " '" + bodyText() + "'" : "");
        }
    }

    Response read() throws IOException {
        return read(false, null, 0);
    }

    Response readHead() throws IOException {
        return read(true, null, 0);
    }

    /**
     * Reads one final response (skipping 1xx unless {@code keepInterim}); with {@code verifyPath}
     * the body is checked against that path's payload from {@code offset} instead of being kept.
     */
    Response read(boolean headRequest, String verifyPath, long offset) throws IOException {
        Response r = readHeadOnly();
        while (r.status >= 100 && r.status < 200) {
            r = readHeadOnly();
        }
        readBody(r, headRequest, verifyPath, offset);
        return r;
    }

    Response readHeadOnly() throws IOException {
        Response r = new Response();
        r.statusLine = line();
        if (!r.statusLine.startsWith("HTTP/1.")) {
            throw new IOException("bad status line: " + r.statusLine);
        }
        r.status = Integer.parseInt(r.statusLine.substring(9, 12));
        String l;
        while (!(l = line()).isEmpty()) {
            int c = l.indexOf(':');
            r.names.add(l.substring(0, c));
            r.values.add(l.substring(c + 1).trim());
        }
        return r;
    }

    private void readBody(Response r, boolean headRequest, String verifyPath, long offset) throws IOException {
        Sink sink = new Sink(verifyPath, offset);
        if (headRequest || r.status == 204 || r.status == 304) {
            // no body
        } else if (r.header("Transfer-Encoding") != null) {
            while (true) {
                String sizeLine = line();
                int semi = sizeLine.indexOf(';');
                long size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
                if (size == 0) {
                    for (String t = line(); !t.isEmpty(); t = line()) {
                        r.trailers.add(t);
                    }
                    break;
                }
                if (!copy(size, sink)) {
                    r.truncated = true;
                    break;
                }
                if (!line().isEmpty()) {
                    throw new IOException("chunk not followed by CRLF");
                }
            }
        } else if (r.header("Content-Length") != null) {
            r.truncated = !copy(Long.parseLong(r.header("Content-Length")), sink);
        } else {
            copy(Long.MAX_VALUE, sink);
        }
        r.bodyLength = sink.length;
        r.firstMismatch = sink.mismatch;
        r.body = sink.kept == null ? null : sink.kept.toByteArray();
    }

    private static final class Sink {
        final long seed;
        final boolean verify;
        long offset;
        long length;
        long mismatch = -1;
        ByteArrayOutputStream kept;

        Sink(String path, long offset) {
            this.verify = path != null;
            this.seed = path == null ? 0 : Payload.seed(path);
            this.offset = offset;
            if (!verify) {
                kept = new ByteArrayOutputStream();
            }
        }

        void accept(byte[] b, int n) {
            if (verify) {
                if (mismatch < 0) {
                    long m = Payload.firstMismatch(seed, offset, b, 0, n);
                    if (m >= 0) {
                        mismatch = m;
                    }
                }
            } else {
                kept.write(b, 0, n);
            }
            offset += n;
            length += n;
        }
    }

    /** Copies up to n bytes; false if the stream ended first. */
    private boolean copy(long n, Sink sink) throws IOException {
        byte[] buf = new byte[1 << 16];
        long left = n;
        while (left > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (r < 0) {
                return n == Long.MAX_VALUE;
            }
            sink.accept(buf, r);
            left -= r;
        }
        return true;
    }

    private String line() throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                throw new EOFException("connection closed; partial line '" + b + "'");
            }
            b.append((char) c);
        }
        int len = b.length();
        if (len > 0 && b.charAt(len - 1) == '\r') {
            b.setLength(len - 1);
        }
        return b.toString();
    }

    /** True when the server closed the connection (EOF, or reset) within the timeout. */
    boolean closedByServer(int millis) throws IOException {
        int old = socket.getSoTimeout();
        socket.setSoTimeout(millis);
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("reset");
        } finally {
            socket.setSoTimeout(old);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
