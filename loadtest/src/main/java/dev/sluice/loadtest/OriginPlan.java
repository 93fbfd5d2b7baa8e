package dev.sluice.loadtest;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * What the origin will send for one request: the head, where the body bytes come from, framing, pacing and the
 * fault to inject. Built from the request's query parameters; an invalid parameter is a 400.
 */
final class OriginPlan {
    enum Fault { NONE, RESET, STALL, SHORT, CLOSE, SURPLUS }

    /** What {@code fault=surplus} sends after a complete response: a second, unrequested one. */
    static final String SURPLUS_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-Surplus: 1\r\n\r\nsmuggled!";

    int status;
    String head; // complete, ending in CRLF CRLF
    boolean sendBody;
    long seed;
    byte[] fixed; // body bytes when not payload (echo, upload verdict, 400 reason)
    long bodyStart; // payload offset of body byte 0
    long bodyLength; // length as framed
    boolean chunked;
    int chunkSize; // 0 = varying sizes
    long delayMs;
    long rate; // bytes per second, 0 = unlimited
    Fault fault = Fault.NONE;
    long faultAt;
    boolean close;
    boolean uncounted; // the origin's own counters (stats=1): not a request of the load

    /** Parameters every response kind shares, validated at head time. */
    static final class Params {
        final int status;
        final long size;
        final boolean sizeGiven;
        final String ct;
        final String cc;
        final String etag;
        final String lm;
        final long lmSeconds;
        final String vary;
        final List<String> hdrs;
        final boolean chunked;
        final int chunk;
        final boolean nolen;
        final long delayMs;
        final long rate;
        final Fault fault;
        final long faultAt;
        final boolean close;
        final boolean echo;
        final boolean stats;

        Params(OriginRequest r, int defaultStatus) {
            Query q = r.query;
            status = (int) q.number("status", defaultStatus);
            if (status < 200 || status > 999) {
                throw new IllegalArgumentException("status must be 200..999: " + status);
            }
            sizeGiven = q.get("size") != null;
            size = q.size("size", 1024);
            echo = q.flag("echo");
            stats = q.flag("stats");
            ct = value(q.get("ct"), echo ? "text/plain" : "application/octet-stream");
            cc = value(q.get("cc"), null);
            String e = value(q.get("etag"), null);
            etag = e == null || e.startsWith("\"") || e.startsWith("W/\"") ? e : "\"" + e + "\"";
            String l = q.get("lm");
            if (l == null) {
                lm = null;
                lmSeconds = Long.MIN_VALUE;
            } else if (!l.isEmpty() && l.length() < 19 && l.chars().allMatch(c -> c >= '0' && c <= '9')) {
                lmSeconds = Long.parseLong(l);
                lm = HttpDates.format(lmSeconds);
            } else {
                lmSeconds = HttpDates.parse(l);
                if (lmSeconds == Long.MIN_VALUE) {
                    throw new IllegalArgumentException("lm is neither an HTTP date nor epoch seconds: " + l);
                }
                lm = HttpDates.format(lmSeconds);
            }
            vary = value(q.get("vary"), null);
            hdrs = q.all("hdr");
            for (String h : hdrs) {
                int colon = h.indexOf(':');
                if (colon <= 0 || !OriginRequest.isToken(h.substring(0, colon))
                        || !OriginRequest.fieldValue(h.substring(colon + 1))) {
                    throw new IllegalArgumentException("hdr must be Name:Value: " + h);
                }
            }
            chunked = q.flag("chunked");
            long c = q.size("chunk", 0);
            if (c < 0 || c > (16 << 20)) {
                throw new IllegalArgumentException("chunk must be 1..16m: " + c);
            }
            chunk = (int) c;
            nolen = q.flag("nolen");
            delayMs = q.number("delay", 0);
            rate = q.size("rate", 0);
            if (delayMs < 0) {
                throw new IllegalArgumentException("delay < 0");
            }
            String f = q.get("fault");
            if (f == null || f.isEmpty()) {
                fault = Fault.NONE;
                faultAt = 0;
            } else if (f.equals("close")) {
                fault = Fault.CLOSE;
                faultAt = 0;
            } else if (f.equals("surplus")) {
                fault = Fault.SURPLUS;
                faultAt = 0;
            } else {
                int at = f.indexOf('@');
                String kind = at < 0 ? f : f.substring(0, at);
                faultAt = at < 0 ? 0 : ByteSize.parse(f.substring(at + 1));
                fault = switch (kind) {
                    case "reset" -> Fault.RESET;
                    case "stall" -> Fault.STALL;
                    case "short" -> Fault.SHORT;
                    default -> throw new IllegalArgumentException("unknown fault: " + f);
                };
            }
            close = q.flag("close") || !r.keepAlive;
        }

        private static String value(String v, String dflt) {
            if (v == null) {
                return dflt;
            }
            if (!OriginRequest.fieldValue(v)) {
                throw new IllegalArgumentException("control character in parameter value");
            }
            return v;
        }
    }

    /** GET, HEAD and any other non-upload method. */
    static OriginPlan serve(OriginRequest r, Params p, String originName) {
        OriginPlan plan = new OriginPlan();
        boolean getOrHead = r.method.equals("GET") || r.method.equals("HEAD");
        boolean head = r.method.equals("HEAD");
        long full;
        if (p.echo) {
            plan.fixed = r.raw.getBytes(StandardCharsets.ISO_8859_1);
            full = plan.fixed.length;
        } else {
            plan.seed = Payload.seed(r.query.path());
            full = p.size;
        }
        int code = p.status;
        long start = 0;
        long len = full;
        if (code == 200 && getOrHead && !p.echo) {
            String inm = r.header("if-none-match");
            String ims = r.header("if-modified-since");
            if (inm != null) {
                if (p.etag != null && etagListMatches(inm, p.etag)) {
                    code = 304;
                }
            } else if (ims != null && p.lm != null) {
                long since = HttpDates.parse(ims);
                if (since != Long.MIN_VALUE && p.lmSeconds <= since) {
                    code = 304;
                }
            }
            String range = r.header("range");
            if (code == 200 && range != null && ifRangeHolds(r.header("if-range"), p)) {
                long[] rg = parseRange(range, full);
                if (rg != null && rg.length == 0) {
                    code = 416;
                    len = 0;
                } else if (rg != null) {
                    code = 206;
                    start = rg[0];
                    len = rg[1] - rg[0] + 1;
                }
            }
        }
        boolean noBody = code == 204 || code == 304;
        StringBuilder h = new StringBuilder(320);
        startHead(h, code, originName);
        if (!noBody) {
            h.append("Content-Type: ").append(p.ct).append("\r\n");
        }
        if (!p.echo) {
            h.append("Accept-Ranges: bytes\r\n");
        }
        if (p.cc != null) {
            h.append("Cache-Control: ").append(p.cc).append("\r\n");
        }
        if (p.etag != null) {
            h.append("ETag: ").append(p.etag).append("\r\n");
        }
        if (p.lm != null) {
            h.append("Last-Modified: ").append(p.lm).append("\r\n");
        }
        if (p.vary != null) {
            h.append("Vary: ").append(p.vary).append("\r\n");
        }
        for (String x : p.hdrs) {
            int colon = x.indexOf(':');
            h.append(x, 0, colon).append(": ").append(x.substring(colon + 1).strip()).append("\r\n");
        }
        boolean close = p.close;
        if (noBody) {
            len = 0;
        } else if (code == 416) {
            h.append("Content-Range: bytes */").append(full).append("\r\n");
            h.append("Content-Length: 0\r\n");
        } else {
            if (code == 206) {
                h.append("Content-Range: bytes ").append(start).append('-').append(start + len - 1).append('/')
                        .append(full).append("\r\n");
            }
            if (p.chunked && r.minor == 1 && !p.nolen) {
                h.append("Transfer-Encoding: chunked\r\n");
                plan.chunked = true;
            } else if (p.nolen || p.chunked) {
                close = true; // close-delimited (also for chunked=1 asked by an HTTP/1.0 client)
            } else {
                h.append("Content-Length: ").append(len).append("\r\n");
            }
        }
        plan.status = code;
        plan.bodyStart = start;
        plan.bodyLength = len;
        plan.sendBody = !head && !noBody && code != 416;
        finish(plan, h, p, close, r.minor);
        return plan;
    }

    /** PUT/POST once the whole body has been received and verified. */
    static OriginPlan uploaded(OriginRequest r, Params p, String originName, long received, long mismatch) {
        String verdict;
        if (mismatch >= 0) {
            verdict = "mismatch@" + mismatch;
        } else if (p.sizeGiven && received < p.size) {
            verdict = "short";
        } else if (p.sizeGiven && received > p.size) {
            verdict = "long";
        } else {
            verdict = "ok";
        }
        OriginPlan plan = new OriginPlan();
        plan.fixed = p.echo ? r.raw.getBytes(StandardCharsets.ISO_8859_1)
                : ("received " + received + " bytes, verified " + verdict + "\n")
                        .getBytes(StandardCharsets.ISO_8859_1);
        plan.bodyLength = plan.fixed.length;
        plan.sendBody = true;
        plan.status = p.status;
        StringBuilder h = new StringBuilder(256);
        startHead(h, p.status, originName);
        h.append("Content-Type: text/plain\r\n");
        h.append("X-Received-Bytes: ").append(received).append("\r\n");
        h.append("X-Body-Verified: ").append(verdict).append("\r\n");
        for (String x : p.hdrs) {
            int colon = x.indexOf(':');
            h.append(x, 0, colon).append(": ").append(x.substring(colon + 1).strip()).append("\r\n");
        }
        h.append("Content-Length: ").append(plan.bodyLength).append("\r\n");
        finish(plan, h, p, p.close, r.minor);
        plan.delayMs = p.delayMs;
        return plan;
    }

    /**
     * {@code stats=1}: the origin's counters as text, {@code requests N} and {@code bytes N} (responses completed and
     * body bytes they sent, this one not included), so a benchmark can tell a proxy's cache hits from misses.
     */
    static OriginPlan stats(OriginRequest r, Params p, String originName, long requests, long bytes) {
        OriginPlan plan = new OriginPlan();
        plan.status = 200;
        plan.fixed = ("requests " + requests + "\nbytes " + bytes + "\n").getBytes(StandardCharsets.ISO_8859_1);
        plan.bodyLength = plan.fixed.length;
        plan.sendBody = !r.method.equals("HEAD");
        plan.uncounted = true;
        StringBuilder h = new StringBuilder(256);
        startHead(h, 200, originName);
        h.append("Content-Type: text/plain\r\n");
        h.append("Cache-Control: no-store\r\n");
        h.append("Content-Length: ").append(plan.bodyLength).append("\r\n");
        finish(plan, h, p, p.close, r.minor);
        return plan;
    }

    /** 400 for a malformed request; always closes. */
    static OriginPlan badRequest(String reason, String originName) {
        OriginPlan plan = new OriginPlan();
        plan.status = 400;
        plan.fixed = ("bad request: " + reason + "\n").getBytes(StandardCharsets.ISO_8859_1);
        plan.bodyLength = plan.fixed.length;
        plan.sendBody = true;
        plan.close = true;
        StringBuilder h = new StringBuilder(256);
        startHead(h, 400, originName);
        h.append("Content-Type: text/plain\r\n");
        h.append("X-Origin-Reason: ").append(reason).append("\r\n");
        h.append("Content-Length: ").append(plan.bodyLength).append("\r\n");
        h.append("Connection: close\r\n\r\n");
        plan.head = h.toString();
        return plan;
    }

    private static void startHead(StringBuilder h, int code, String originName) {
        h.append("HTTP/1.1 ").append(code).append(' ').append(reason(code)).append("\r\n");
        h.append("Date: ").append(HttpDates.now()).append("\r\n");
        h.append("X-Origin: ").append(originName).append("\r\n");
    }

    private static void finish(OriginPlan plan, StringBuilder h, Params p, boolean close, int minor) {
        if (close) {
            h.append("Connection: close\r\n");
        } else if (minor == 0) {
            h.append("Connection: keep-alive\r\n");
        }
        h.append("\r\n");
        plan.head = h.toString();
        plan.close = close;
        plan.chunkSize = p.chunk;
        plan.delayMs = p.delayMs;
        plan.rate = p.rate;
        plan.fault = p.fault;
        plan.faultAt = p.faultAt;
    }

    /** Weak comparison against a list of entity tags or "*". */
    static boolean etagListMatches(String header, String etag) {
        String ours = etag.startsWith("W/") ? etag.substring(2) : etag;
        for (String t : header.split(",")) {
            String s = t.strip();
            if (s.equals("*")) {
                return true;
            }
            if (s.startsWith("W/")) {
                s = s.substring(2);
            }
            if (s.equals(ours)) {
                return true;
            }
        }
        return false;
    }

    private static boolean ifRangeHolds(String ifRange, Params p) {
        if (ifRange == null) {
            return true;
        }
        String v = ifRange.strip();
        if (v.startsWith("\"") || v.startsWith("W/\"")) {
            return p.etag != null && !p.etag.startsWith("W/") && v.equals(p.etag);
        }
        return p.lm != null && HttpDates.parse(v) == p.lmSeconds;
    }

    /**
     * A single byte range of a representation of {@code size} bytes.
     *
     * @return {start, endInclusive}; an empty array if unsatisfiable (416); null if the header is to be ignored
     *     (invalid syntax, other unit, several ranges)
     */
    static long[] parseRange(String header, long size) {
        String h = header.strip();
        if (h.length() < 6 || !h.substring(0, 6).toLowerCase(Locale.ROOT).equals("bytes=")) {
            return null;
        }
        String spec = h.substring(6).strip();
        if (spec.indexOf(',') >= 0) {
            return null;
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        String a = spec.substring(0, dash).strip();
        String b = spec.substring(dash + 1).strip();
        if (a.isEmpty()) {
            long n = digits(b);
            if (n < 0) {
                return null;
            }
            if (n == 0 || size == 0) {
                return new long[0];
            }
            return new long[] {Math.max(0, size - n), size - 1};
        }
        long start = digits(a);
        long end = b.isEmpty() ? Long.MAX_VALUE : digits(b);
        if (start < 0 || end < 0 || end < start) {
            return null;
        }
        if (start >= size) {
            return new long[0];
        }
        return new long[] {start, Math.min(end, size - 1)};
    }

    private static long digits(String s) {
        if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        return Long.parseLong(s);
    }

    static String reason(int code) {
        return switch (code) {
            case 200 -> "OK";
            case 201 -> "Created";
            case 202 -> "Accepted";
            case 204 -> "No Content";
            case 206 -> "Partial Content";
            case 301 -> "Moved Permanently";
            case 302 -> "Found";
            case 304 -> "Not Modified";
            case 400 -> "Bad Request";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 416 -> "Range Not Satisfiable";
            case 500 -> "Internal Server Error";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            default -> "Status";
        };
    }
}
