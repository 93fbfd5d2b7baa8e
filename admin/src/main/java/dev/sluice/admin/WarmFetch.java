package dev.sluice.admin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One warm fetch: a warm request ({@code Sluice-Warm}) to the http listener that serves the key's route, over a
 * plain loopback socket. The proxy takes it down the path of a client's request (routing, one fill per key with
 * clients collapsed onto it or it onto theirs, validation) and answers a response it stored, or had stored, with the
 * head alone once the body is in the cache; so for stored keys no body crosses loopback. The head's Cache-Status
 * says what happened ({@link #classify}).
 */
public final class WarmFetch {
    /** The request field that makes a request a warm request; its value is the process's token. */
    public static final String FIELD = "Sluice-Warm";
    static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    /**
     * The proxy answers a stored key once its whole body is in: a large object over a slow upstream may take this
     * long without a byte here. The proxy's own upstream timeouts end a stalled fill (a 502) long before.
     */
    static final int READ_TIMEOUT_MILLIS = 15 * 60_000;
    /** Largest response head read; a proxy's head is far smaller. */
    static final int MAX_HEAD = 64 * 1024;
    /** Of a failure's body (the proxy's 502 says why), this much is kept for the reason. */
    static final int MAX_REASON_BODY = 200;

    /** What a fetch did: cached (stored now, or collapsed onto a fill), skipped (already fresh), or failed. */
    public enum Outcome { CACHED, SKIPPED, FAILED }

    /** @param bytes the body's length (Content-Length), counted for cached and skipped keys; reason for failures */
    public record Result(Outcome outcome, long bytes, String reason) {}

    private WarmFetch() {}

    /** A job's request: GET, Host, the warm token, the job as user agent, no-cache when revalidating. */
    static byte[] request(String host, String target, String token, String jobId, boolean revalidate) {
        return request(host, target, token, "sluice-warm/" + jobId, revalidate, java.util.List.of());
    }

    /**
     * A warm request: GET {@code target} with Host, the user agent, {@code fields} (name/value pairs, e.g. the
     * values a stored response varies on), no-cache when it is to validate a stored response, and the warm token.
     * Names and values must be valid field syntax (they come from a parsed request or were checked).
     */
    public static byte[] request(String host, String target, String token, String userAgent, boolean revalidate,
            java.util.List<String[]> fields) {
        StringBuilder b = new StringBuilder(128 + target.length()).append("GET ").append(target).append(" HTTP/1.1\r\n")
                .append("Host: ").append(host).append("\r\nUser-Agent: ").append(userAgent)
                .append("\r\nConnection: close\r\n");
        for (String[] f : fields) {
            b.append(f[0]).append(": ").append(f[1]).append("\r\n");
        }
        if (revalidate) {
            b.append("Cache-Control: no-cache\r\n"); // validated with the origin: a 304 refreshes the stored head
        }
        b.append(FIELD).append(": ").append(token).append("\r\n\r\n");
        // ISO-8859-1: a parsed head's bytes came off the wire that way and go back the same way
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * Sends {@code request} to {@code listener} and reads the answer. {@code socket} receives the socket before it
     * is used, so that a cancel can close it from another thread.
     */
    static Result fetch(InetSocketAddress listener, byte[] request, java.util.function.Consumer<Socket> socket)
            throws IOException {
        return fetch(listener, request, socket, READ_TIMEOUT_MILLIS);
    }

    /** As {@link #fetch(InetSocketAddress, byte[], java.util.function.Consumer)}, giving up after {@code readTimeoutMillis} without a byte. */
    public static Result fetch(InetSocketAddress listener, byte[] request, java.util.function.Consumer<Socket> socket,
            int readTimeoutMillis) throws IOException {
        try (Socket s = new Socket()) {
            socket.accept(s);
            s.connect(listener, CONNECT_TIMEOUT_MILLIS);
            s.setSoTimeout(readTimeoutMillis);
            OutputStream out = s.getOutputStream();
            out.write(request);
            out.flush();
            InputStream in = s.getInputStream();
            String head = readHead(in);
            int status = status(head);
            String cacheStatus = field(head, "cache-status");
            long length = contentLength(head);
            Result r = classify(status, cacheStatus, length);
            if (r.outcome() == Outcome.FAILED) {
                // a 502's body says why; any other body (an uncacheable response, sent whole) is read and dropped
                byte[] start = in.readNBytes(MAX_REASON_BODY);
                in.transferTo(OutputStream.nullOutputStream());
                if (status >= 500 && start.length > 0) {
                    String body = new String(start, StandardCharsets.UTF_8).replaceAll("\\s+", " ").strip();
                    r = new Result(Outcome.FAILED, 0, r.reason() + ": " + body);
                }
            }
            return r;
        }
    }

    /** What the answer's status and Cache-Status say (see {@code CacheStatus} in the cache module). */
    static Result classify(int status, String cacheStatus, long length) {
        String cs = cacheStatus == null ? "" : cacheStatus;
        long bytes = Math.max(0, length);
        if (cs.contains("; hit")) {
            return new Result(Outcome.SKIPPED, bytes, null); // fresh in the cache already
        }
        if (cs.contains("; stored") || cs.contains("; collapsed")) {
            return new Result(Outcome.CACHED, bytes, null);
        }
        if (cs.contains("fwd-status=304") && !cs.contains("detail=")) {
            return new Result(Outcome.SKIPPED, bytes, null); // validated: the stored response is fresh again
        }
        int d = cs.indexOf("detail=");
        String why = d >= 0 ? "not stored (" + cs.substring(d) + ")" : cacheStatus == null ? "no Cache-Status" : cs;
        return new Result(Outcome.FAILED, 0, "HTTP " + status + ", " + why);
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(512);
        int matched = 0; // of CR LF CR LF
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("the proxy closed before a complete response head (" + b.size() + " bytes)");
            }
            b.write(c);
            matched = c == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : c == '\r' ? 1 : 0;
            if (matched == 4) {
                return b.toString(StandardCharsets.ISO_8859_1);
            }
            if (b.size() > MAX_HEAD) {
                throw new IOException("response head over " + MAX_HEAD + " bytes");
            }
        }
    }

    private static int status(String head) throws IOException {
        // "HTTP/1.1 200 OK"
        if (head.length() < 12 || !head.startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP response: " + ApiError.quote(head.lines().findFirst().orElse("")));
        }
        try {
            return Integer.parseInt(head.substring(9, 12));
        } catch (NumberFormatException e) {
            throw new IOException("bad status line: " + ApiError.quote(head.lines().findFirst().orElse("")));
        }
    }

    /** The first value of field {@code lowerName}, or null. */
    static String field(String head, String lowerName) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().toLowerCase(Locale.ROOT).equals(lowerName)) {
                return line.substring(colon + 1).strip();
            }
        }
        return null;
    }

    private static long contentLength(String head) {
        String v = field(head, "content-length");
        try {
            return v == null ? -1 : Long.parseLong(v);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
