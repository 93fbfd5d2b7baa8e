package dev.sluice.proxy;

import dev.sluice.proxy.BodyTransfer.Framing;
import java.util.StringJoiner;

/**
 * How a message's body is delimited, decided from its head alone (RFC 9112 6.3): no body, a length, chunked, or
 * until the connection closes. One rule for each direction, kept apart from the exchange so that it can be checked
 * on its own ({@code HeadFuzzTest}). Requests get the strict reading: whatever an upstream could frame differently
 * is refused.
 *
 * @param length            the body's size for {@link Framing#LENGTH}, else 0
 * @param transferEncoding  the Transfer-Encoding field value (all fields joined) for {@link Framing#CHUNKED}, else null
 */
record BodyFraming(Framing framing, long length, String transferEncoding) {
    static final BodyFraming NONE = new BodyFraming(Framing.NONE, 0, null);
    private static final BodyFraming UNTIL_CLOSE = new BodyFraming(Framing.UNTIL_CLOSE, 0, null);

    /**
     * A request's framing: Content-Length with Transfer-Encoding is refused in every HTTP version, Transfer-Encoding
     * must end in a single chunked and is refused on HTTP/1.0, Content-Length must be one decimal value.
     *
     * @param maxBody 413 above this many bytes (0 = no limit)
     */
    static BodyFraming ofRequest(HttpHead req, long maxBody) throws ProxyException {
        String te = req.joined("Transfer-Encoding");
        int contentLengths = req.count("Content-Length");
        if (te != null && contentLengths > 0) {
            // RFC 9112 6.1: the classic smuggling vector; refused in every HTTP version
            throw new ProxyException(Failure.BAD_REQUEST, "both Content-Length and Transfer-Encoding");
        }
        if (te != null) {
            if (req.minorVersion == 0) {
                throw new ProxyException(Failure.BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
            }
            if (!endsInChunked(te)) {
                throw new ProxyException(Failure.BAD_REQUEST, "Transfer-Encoding does not end in chunked: " + te);
            }
            return new BodyFraming(Framing.CHUNKED, 0, te);
        }
        if (contentLengths == 0) {
            return NONE;
        }
        long len = contentLength(req);
        if (len == -1) {
            throw new ProxyException(Failure.BAD_REQUEST, "invalid Content-Length");
        }
        if (len == -2) {
            throw new ProxyException(Failure.BAD_REQUEST, "Content-Length values differ");
        }
        if (maxBody > 0 && len > maxBody) {
            throw new ProxyException(Failure.PAYLOAD_TOO_LARGE, "request body of " + len + " bytes over the limit of " + maxBody);
        }
        return len == 0 ? NONE : new BodyFraming(Framing.LENGTH, len, null);
    }

    /**
     * A response's framing: none for HEAD, 1xx, 204 and 304; chunked when Transfer-Encoding ends in chunked (its
     * empty list elements ignored), else until close; a Content-Length; until close without either. Content-Length together with Transfer-Encoding is
     * refused (RFC 9112 6.3 allows forwarding it with the length removed, but calls it a likely smuggling attempt, and
     * a cache must not store what two readers could frame differently).
     */
    static BodyFraming ofResponse(HttpHead resp, String requestMethod) throws ProxyException {
        if (requestMethod.equals("HEAD") || resp.status < 200 || resp.status == 204 || resp.status == 304) {
            return NONE;
        }
        String te = resp.joined("Transfer-Encoding");
        int contentLengths = resp.count("Content-Length");
        if (te != null && contentLengths > 0) {
            throw new ProxyException(Failure.BAD_GATEWAY, "upstream sent both Content-Length and Transfer-Encoding");
        }
        if (te != null) {
            // RFC 9110 5.6.1: empty list elements are ignored, so "chunked," ends in chunked. Read until close, its
            // chunk framing would reach the client as body bytes. The list goes on without them: the client reads
            // the body as Sluice did.
            String codings = codings(te);
            return endsInChunked(codings) ? new BodyFraming(Framing.CHUNKED, 0, codings) : UNTIL_CLOSE;
        }
        if (contentLengths == 0) {
            return UNTIL_CLOSE;
        }
        long length = contentLength(resp);
        if (length < 0) {
            throw new ProxyException(Failure.BAD_GATEWAY, "upstream sent an invalid Content-Length");
        }
        return new BodyFraming(Framing.LENGTH, length, null);
    }

    /** The single Content-Length value; -1 when malformed, -2 when values disagree, -3 when there is none. */
    static long contentLength(HttpHead h) {
        long value = -3;
        for (int i = 0; i < h.size(); i++) {
            if (!h.names.get(i).equalsIgnoreCase("Content-Length")) {
                continue;
            }
            for (String part : h.values.get(i).split(",", -1)) {
                String p = part.trim();
                if (p.isEmpty() || p.length() > 18) {
                    return -1;
                }
                long v = 0;
                for (int k = 0; k < p.length(); k++) {
                    char c = p.charAt(k);
                    if (c < '0' || c > '9') {
                        return -1;
                    }
                    v = v * 10 + (c - '0');
                }
                if (value != -3 && value != v) {
                    return -2;
                }
                value = v;
            }
        }
        return value;
    }

    /** The codings of a Transfer-Encoding value without empty list elements, joined with ", ". */
    static String codings(String te) {
        StringJoiner out = new StringJoiner(", ");
        for (String c : te.split(",")) {
            String t = c.trim();
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out.toString();
    }

    /** Transfer-Encoding codings whose last is chunked, with chunked exactly once. */
    static boolean endsInChunked(String te) {
        String[] codings = te.split(",", -1);
        int chunked = 0;
        for (String c : codings) {
            if (c.trim().equalsIgnoreCase("chunked")) {
                chunked++;
            }
        }
        return chunked == 1 && codings[codings.length - 1].trim().equalsIgnoreCase("chunked");
    }
}
