package dev.sluice.loadtest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One parsed request head. Parsing is strict on purpose: the origin sits behind the proxy under test, and anything
 * a careful proxy must not forward (bare LF, obs-fold, Content-Length with Transfer-Encoding, Transfer-Encoding on
 * HTTP/1.0, conflicting lengths, missing Host on HTTP/1.1) is rejected with 400 so tests notice.
 */
final class OriginRequest {
    final String raw;
    final String method;
    final String target;
    final int minor;
    final Query query;
    private final List<String> names = new ArrayList<>();
    private final List<String> values = new ArrayList<>();
    boolean chunked;
    long contentLength;
    boolean keepAlive;
    boolean expectContinue;

    private OriginRequest(String raw, String method, String target, int minor, Query query) {
        this.raw = raw;
        this.method = method;
        this.target = target;
        this.minor = minor;
        this.query = query;
    }

    /** A malformed request; the message becomes the 400's reason. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message, null, false, false);
        }
    }

    /** Parses a head ending in CRLF CRLF (ISO-8859-1 decoded, so one char per byte). */
    static OriginRequest parse(String raw) throws BadRequest {
        String[] lines = raw.substring(0, raw.length() - 4).split("\r\n", -1);
        String rl = lines[0];
        int sp1 = rl.indexOf(' ');
        int sp2 = sp1 < 0 ? -1 : rl.indexOf(' ', sp1 + 1);
        if (sp1 <= 0 || sp2 < 0 || rl.indexOf(' ', sp2 + 1) >= 0) {
            throw new BadRequest("bad request line");
        }
        String method = rl.substring(0, sp1);
        String target = rl.substring(sp1 + 1, sp2);
        String version = rl.substring(sp2 + 1);
        if (!isToken(method)) {
            throw new BadRequest("bad method");
        }
        int minor;
        if (version.equals("HTTP/1.1")) {
            minor = 1;
        } else if (version.equals("HTTP/1.0")) {
            minor = 0;
        } else {
            throw new BadRequest("unsupported version");
        }
        if (target.isEmpty() || !visible(target)) {
            throw new BadRequest("bad request target");
        }
        if (method.equals("CONNECT")) {
            throw new BadRequest("CONNECT not supported");
        }
        if (!(target.startsWith("/") || target.startsWith("http://") || target.startsWith("https://")
                || (target.equals("*") && method.equals("OPTIONS")))) {
            throw new BadRequest("bad request target");
        }
        Query query;
        try {
            query = Query.parse(target);
        } catch (IllegalArgumentException e) {
            throw new BadRequest("bad query: " + e.getMessage());
        }
        OriginRequest r = new OriginRequest(raw, method, target, minor, query);
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty()) {
                throw new BadRequest("empty header line");
            }
            char c0 = line.charAt(0);
            if (c0 == ' ' || c0 == '\t') {
                throw new BadRequest("obsolete line folding");
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new BadRequest("header without colon");
            }
            String name = line.substring(0, colon);
            if (!isToken(name)) {
                throw new BadRequest("bad header name");
            }
            String value = line.substring(colon + 1).strip();
            if (!fieldValue(value)) {
                throw new BadRequest("bad header value");
            }
            r.names.add(name);
            r.values.add(value);
        }
        r.frame();
        return r;
    }

    private void frame() throws BadRequest {
        List<String> te = headers("transfer-encoding");
        List<String> cl = headers("content-length");
        if (!te.isEmpty()) {
            if (minor == 0) {
                throw new BadRequest("Transfer-Encoding on HTTP/1.0");
            }
            if (!cl.isEmpty()) {
                throw new BadRequest("both Content-Length and Transfer-Encoding");
            }
            List<String> codings = tokens(te);
            if (codings.size() != 1 || !codings.get(0).equals("chunked")) {
                throw new BadRequest("unsupported Transfer-Encoding");
            }
            chunked = true;
        } else if (!cl.isEmpty()) {
            long v = -1;
            for (String part : String.join(",", cl).split(",", -1)) {
                String p = part.strip();
                if (p.isEmpty() || p.length() > 18 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    throw new BadRequest("bad Content-Length");
                }
                long n = Long.parseLong(p);
                if (v >= 0 && n != v) {
                    throw new BadRequest("conflicting Content-Length");
                }
                v = n;
            }
            contentLength = v;
        }
        if (minor == 1 && headers("host").size() != 1) {
            throw new BadRequest("HTTP/1.1 request needs exactly one Host");
        }
        List<String> conn = tokens(headers("connection"));
        keepAlive = minor == 1 ? !conn.contains("close") : conn.contains("keep-alive");
        String expect = header("expect");
        expectContinue = minor == 1 && expect != null && expect.equalsIgnoreCase("100-continue");
    }

    boolean hasBody() {
        return chunked || contentLength > 0;
    }

    boolean isUpload() {
        return method.equals("PUT") || method.equals("POST");
    }

    /** First value of a header (case-insensitive name), or null. */
    String header(String name) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                return values.get(i);
            }
        }
        return null;
    }

    List<String> headers(String name) {
        List<String> out = new ArrayList<>(1);
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                out.add(values.get(i));
            }
        }
        return out;
    }

    private static List<String> tokens(List<String> values) {
        List<String> out = new ArrayList<>();
        for (String v : values) {
            for (String t : v.split(",")) {
                String s = t.strip().toLowerCase(Locale.ROOT);
                if (!s.isEmpty()) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** Field value: no control characters except HTAB (obs-text allowed). */
    static boolean fieldValue(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff) {
                return false;
            }
        }
        return true;
    }

    private static boolean visible(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }
}
