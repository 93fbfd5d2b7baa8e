package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Incremental, strict HTTP/1.x head parser working on the connection's cumulation buffer.
 * It is stricter than Netty's decoder on purpose: a proxy that accepts what its upstream reads
 * differently is a request-smuggling vector, so ambiguous input is refused with a reason.
 * One instance per connection and direction (it remembers how far it scanned).
 */
final class HeadParser {
    private final boolean request;
    private final int maxHead;
    private final int maxTarget;
    /**
     * The longest request line (bytes before its LF): the target's limit and room for method and version. A long:
     * the configuration allows a target limit up to the largest int.
     */
    private final long maxLine;
    /** Index (relative to readerIndex) up to which no head terminator exists. */
    private int scanned;
    /** Empty lines skipped before the coming request line, in this call and earlier ones. */
    private int emptyLines;

    HeadParser(boolean request, int maxHead, int maxTarget) {
        this.request = request;
        this.maxHead = maxHead;
        this.maxTarget = maxTarget;
        this.maxLine = maxTarget + 32L;
    }

    /**
     * Parses one head from {@code in} and advances its reader index past it, or returns null (and
     * consumes nothing) when more bytes are needed.
     */
    HttpHead parse(ByteBuf in) throws ProxyException {
        if (request) {
            // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line. Up to 4 are,
            // counted over calls: however they arrive, a fifth is read as the (malformed) request line.
            while (in.isReadable() && emptyLines < 4) {
                byte b = in.getByte(in.readerIndex());
                if (b == '\r' && in.readableBytes() >= 2 && in.getByte(in.readerIndex() + 1) == '\n') {
                    in.skipBytes(2);
                } else if (b == '\n') {
                    in.skipBytes(1);
                } else {
                    break;
                }
                emptyLines++;
                scanned = 0;
            }
        }
        int start = in.readerIndex();
        int end = findEnd(in, start);
        int length = (end < 0 ? in.writerIndex() : end) - start;
        // The limits are checked on the bytes seen so far in one order, and decided on bytes that every way of
        // receiving them has seen at that point: the same bytes get the same answer however they were cut into reads.
        if (length > maxHead) {
            throw tooLarge(in, start);
        }
        if (request && requestLineLength(in, start, start + length) > maxLine) {
            // known to be too long (even before its end came): refused, never parsed (a long method) or refused
            // for another reason
            throw lineTooLong();
        }
        if (end < 0) {
            return null;
        }
        HttpHead head = new HttpHead();
        head.wireLength = length;
        byte[] b = scratch(length);
        in.getBytes(start, b, 0, length);
        int lineEnd = lineEnd(b, 0, length);
        if (request) {
            parseRequestLine(b, 0, lineEnd, head);
        } else {
            parseStatusLine(b, 0, lineEnd, head);
        }
        int pos = next(b, lineEnd);
        while (pos < length) {
            int le = lineEnd(b, pos, length);
            if (le == pos) {
                break; // the empty line ending the head
            }
            parseHeaderLine(b, pos, le, head);
            pos = next(b, le);
        }
        in.readerIndex(end);
        scanned = 0; // the next head (pipelined) is scanned from its start, and may have its own empty lines
        emptyLines = 0;
        return head;
    }

    /**
     * A head over {@code maxHead}: for a request, 414 when its request line is over the limit within the head's
     * first {@code maxHead + 1} bytes, else 431. Those bytes are all that was certainly received when the head was
     * found too large, so the answer is the same however the head arrived.
     */
    private ProxyException tooLarge(ByteBuf in, int start) {
        if (request) {
            int window = (int) Math.min(maxHead + 1L, in.writerIndex() - start);
            if (requestLineLength(in, start, start + window) > maxLine) {
                return lineTooLong();
            }
            return new ProxyException(Failure.HEADERS_TOO_LARGE, "request head larger than " + maxHead + " bytes");
        }
        return new ProxyException(Failure.BAD_GATEWAY, "upstream response head larger than " + maxHead + " bytes");
    }

    private ProxyException lineTooLong() {
        return new ProxyException(Failure.URI_TOO_LONG, "request line longer than " + maxLine + " bytes");
    }

    /** Bytes of the request line at {@code start} known so far: up to its LF, or up to {@code limit} without one. */
    private static int requestLineLength(ByteBuf in, int start, int limit) {
        int eol = in.indexOf(start, limit, (byte) '\n');
        return (eol < 0 ? limit : eol) - start;
    }

    /** Returns the index just past the blank line ending the head, or -1. Accepts CRLF and bare LF. */
    private int findEnd(ByteBuf in, int start) {
        int limit = in.writerIndex();
        int i = start + Math.max(0, scanned - 3);
        while (true) {
            int lf = in.indexOf(i, limit, (byte) '\n');
            if (lf < 0) {
                scanned = limit - start;
                return -1;
            }
            // after this LF: either LF or CRLF ends the head
            if (lf + 1 < limit && in.getByte(lf + 1) == '\n') {
                return lf + 2;
            }
            if (lf + 2 < limit && in.getByte(lf + 1) == '\r' && in.getByte(lf + 2) == '\n') {
                return lf + 3;
            }
            if (lf + 1 >= limit || (lf + 2 >= limit && in.getByte(lf + 1) == '\r')) {
                scanned = lf - start;
                return -1;
            }
            i = lf + 1;
        }
    }

    /** Per event-loop thread: heads are parsed from one bulk copy. */
    private static final io.netty.util.concurrent.FastThreadLocal<byte[]> SCRATCH =
            new io.netty.util.concurrent.FastThreadLocal<>() {
                @Override
                protected byte[] initialValue() {
                    return new byte[8192];
                }
            };

    private static byte[] scratch(int length) {
        byte[] b = SCRATCH.get();
        if (b.length < length) {
            b = new byte[Math.max(length, b.length * 2)];
            SCRATCH.set(b);
        }
        return b;
    }

    static int indexOf(byte[] b, int from, int to, byte value) {
        for (int i = from; i < to; i++) {
            if (b[i] == value) {
                return i;
            }
        }
        return -1;
    }

    /** Index of the line's terminator (the CR of CRLF or the bare LF). */
    private static int lineEnd(byte[] b, int from, int end) {
        int lf = indexOf(b, from, end, (byte) '\n');
        if (lf < 0) {
            return end;
        }
        if (lf > from && b[lf - 1] == '\r') {
            return lf - 1;
        }
        return lf;
    }

    private static int next(byte[] b, int lineEnd) {
        return b[lineEnd] == '\r' ? lineEnd + 2 : lineEnd + 1;
    }

    private void parseRequestLine(byte[] in, int from, int to, HttpHead head) throws ProxyException {
        int sp1 = indexOf(in, from, to, (byte) ' ');
        if (sp1 <= from) {
            throw bad("malformed request line");
        }
        int sp2 = indexOf(in, sp1 + 1, to, (byte) ' ');
        if (sp2 < 0) {
            throw bad("malformed request line");
        }
        for (int i = from; i < sp1; i++) {
            if (!isToken(in[i])) {
                throw bad("invalid character in method");
            }
        }
        if (sp2 - sp1 - 1 > maxTarget) {
            throw new ProxyException(Failure.URI_TOO_LONG, "request target longer than " + maxTarget + " bytes");
        }
        if (sp2 == sp1 + 1) {
            throw bad("malformed request line: empty target");
        }
        for (int i = sp1 + 1; i < sp2; i++) {
            byte b = in[i];
            if (b <= 0x20 || b == 0x7f) {
                throw bad("invalid character in request target");
            }
        }
        head.method = str(in, from, sp1);
        head.target = str(in, sp1 + 1, sp2);
        head.minorVersion = version(in, sp2 + 1, to);
    }

    /**
     * RFC 9112 4: {@code HTTP-version SP 3DIGIT SP [reason-phrase]}, the status within 100-599. The second space may
     * be missing when there is no reason phrase (common in the field); anything else after the three digits (a
     * fourth digit, a letter) is refused rather than read as a shorter status.
     */
    private void parseStatusLine(byte[] in, int from, int to, HttpHead head) throws ProxyException {
        if (to - from < 12 || in[from + 8] != ' ' || (to - from > 12 && in[from + 12] != ' ')) {
            throw new ProxyException(Failure.BAD_GATEWAY, "malformed upstream status line");
        }
        head.minorVersion = version(in, from, from + 8);
        int status = 0;
        for (int i = from + 9; i < from + 12; i++) {
            byte b = in[i];
            if (b < '0' || b > '9') {
                throw new ProxyException(Failure.BAD_GATEWAY, "malformed upstream status code");
            }
            status = status * 10 + (b - '0');
        }
        if (status < 100 || status > 599) {
            throw new ProxyException(Failure.BAD_GATEWAY, "upstream status code " + status + " outside 100-599");
        }
        for (int i = from + 13; i < to; i++) {
            if (!isFieldText(in[i])) {
                throw new ProxyException(Failure.BAD_GATEWAY, "invalid character in upstream reason phrase");
            }
        }
        head.status = status;
        head.reasonPhrase = to > from + 13 ? str(in, from + 13, to) : "";
    }

    private int version(byte[] in, int from, int to) throws ProxyException {
        if (to - from != 8 || in[from] != 'H' || in[from + 1] != 'T' || in[from + 2] != 'T'
                || in[from + 3] != 'P' || in[from + 4] != '/' || in[from + 6] != '.'
                || !isDigit(in[from + 5]) || !isDigit(in[from + 7])) {
            throw request ? bad("malformed HTTP version")
                    : new ProxyException(Failure.BAD_GATEWAY, "malformed upstream HTTP version");
        }
        if (in[from + 5] != '1') {
            throw request ? new ProxyException(Failure.VERSION_NOT_SUPPORTED, "HTTP version " + str(in, from, to) + " not supported")
                    : new ProxyException(Failure.BAD_GATEWAY, "upstream spoke " + str(in, from, to));
        }
        return in[from + 7] == '0' ? 0 : 1;
    }

    private void parseHeaderLine(byte[] in, int from, int to, HttpHead head) throws ProxyException {
        int colon = indexOf(in, from, to, (byte) ':');
        String error = fieldLineError(in, from, colon, to, "header section");
        if (error != null) {
            throw fail(error);
        }
        int vs = colon + 1;
        int ve = to;
        while (vs < ve && isOws(in[vs])) {
            vs++;
        }
        while (ve > vs && isOws(in[ve - 1])) {
            ve--;
        }
        head.add(str(in, from, colon), str(in, vs, ve));
    }

    /**
     * Why {@code in[from, to)} (a line without its line end) is not a valid field line (RFC 9110 5, RFC 9112 5), or
     * null: a token name, a colon with no whitespace before it, a value of VCHAR, obs-text, SP and HTAB, no obs-fold.
     * The one rule for header sections in both directions and for trailer sections ({@link ChunkedScanner}).
     *
     * @param colon the line's first colon (the caller needs it too), or -1
     */
    static String fieldLineError(byte[] in, int from, int colon, int to, String section) {
        byte first = in[from];
        if (first == ' ' || first == '\t') {
            return "obsolete line folding in " + section;
        }
        if (colon < 0) {
            return "field line without colon in " + section;
        }
        if (colon == from) {
            return "empty field name in " + section;
        }
        for (int i = from; i < colon; i++) {
            byte b = in[i];
            if (!isToken(b)) {
                return b == ' ' || b == '\t' ? "whitespace before colon in " + section
                        : "invalid character in field name in " + section;
            }
        }
        for (int i = colon + 1; i < to; i++) {
            byte b = in[i];
            if (!isFieldText(b)) {
                return "invalid character 0x" + Integer.toHexString(b & 0xff) + " in field value in " + section;
            }
        }
        return null;
    }

    /**
     * VCHAR, obs-text, SP or HTAB: what a field value, a reason phrase and a quoted string may hold (RFC 9110 5.5,
     * 5.6.4, RFC 9112 4); everything else (CR, LF, NUL, the other controls, DEL) is not. obs-text is 0x80-0xff,
     * negative as a byte: a plain {@code b < 0x20} would refuse it.
     */
    static boolean isFieldText(byte b) {
        return b < 0 || b >= 0x20 && b != 0x7f || b == '\t';
    }

    private ProxyException fail(String reason) {
        return request ? bad(reason) : new ProxyException(Failure.BAD_GATEWAY, "upstream: " + reason);
    }

    private static ProxyException bad(String reason) {
        return new ProxyException(Failure.BAD_REQUEST, reason);
    }

    private static String str(byte[] in, int from, int to) {
        return new String(in, from, to - from, StandardCharsets.ISO_8859_1);
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    private static boolean isOws(byte b) {
        return b == ' ' || b == '\t';
    }

    private static final boolean[] TOKEN = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TOKEN[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TOKEN[c] = true;
            TOKEN[c - 32] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TOKEN[c] = true;
        }
    }

    static boolean isToken(byte b) {
        return b > 0 && TOKEN[b];
    }

    static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 128 || !TOKEN[c]) {
                return false;
            }
        }
        return true;
    }
}
