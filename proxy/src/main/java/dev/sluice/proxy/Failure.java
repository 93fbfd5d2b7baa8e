package dev.sluice.proxy;

import io.netty.channel.ConnectTimeoutException;
import java.net.ConnectException;

/**
 * Every locally generated reply, in one place: its status, its stable lowercase name (used in the
 * access log and metrics), and whether the client connection must close after it.
 */
enum Failure {
    BAD_REQUEST(400, "Bad Request", true),
    NO_ROUTE(404, "Not Found", false),
    REQUEST_TIMEOUT(408, "Request Timeout", true),
    PAYLOAD_TOO_LARGE(413, "Content Too Large", true),
    URI_TOO_LONG(414, "URI Too Long", true),
    HEADERS_TOO_LARGE(431, "Request Header Fields Too Large", true),
    NOT_IMPLEMENTED(501, "Not Implemented", true),
    BAD_GATEWAY(502, "Bad Gateway", false),
    SERVICE_UNAVAILABLE(503, "Service Unavailable", false),
    GATEWAY_TIMEOUT(504, "Gateway Timeout", false),
    VERSION_NOT_SUPPORTED(505, "HTTP Version Not Supported", true);

    final int status;
    final String phrase;
    /** Bad input: the stream can no longer be trusted, so the connection closes after the reply. */
    final boolean closesConnection;

    Failure(int status, String phrase, boolean closesConnection) {
        this.status = status;
        this.phrase = phrase;
        this.closesConnection = closesConnection;
    }

    /**
     * The reply for this failure: a short text body (with the reason for 4xx; a 5xx says no more than its status,
     * the log has the upstream's details), {@code Connection: close} when the connection ends after it, no body for
     * a HEAD request.
     */
    io.netty.buffer.ByteBuf reply(io.netty.buffer.ByteBufAllocator alloc, String reason, boolean headRequest, boolean close) {
        byte[] body = (status + " " + phrase + (status < 500 ? ": " + reason : "") + "\n")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + phrase + "\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + body.length + "\r\n"
                + "Via: 1.1 " + HeaderRules.VIA + "\r\n"
                + (close ? "Connection: close\r\n" : "") + "\r\n";
        byte[] h = head.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        io.netty.buffer.ByteBuf out = alloc.buffer(h.length + (headRequest ? 0 : body.length)).writeBytes(h);
        return headRequest ? out : out.writeBytes(body);
    }

    /** Maps an upstream-side exception to the reply the client gets and a reason for the log. */
    static ProxyException fromUpstream(Throwable t, String upstream) {
        if (t instanceof ProxyException p) {
            return p;
        }
        if (t instanceof ConnectTimeoutException) {
            return new ProxyException(GATEWAY_TIMEOUT, "upstream connect timeout: " + upstream);
        }
        if (t instanceof ConnectException) {
            return new ProxyException(BAD_GATEWAY, "upstream connect failed: " + upstream + ": " + t.getMessage());
        }
        return new ProxyException(BAD_GATEWAY, "upstream error: " + upstream + ": " + t);
    }
}
