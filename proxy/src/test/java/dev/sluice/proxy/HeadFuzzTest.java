package dev.sluice.proxy;

import static dev.sluice.proxy.FuzzInput.show;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sluice.proxy.BodyTransfer.Framing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectDecoder;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpUtil;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fuzz targets for the head parser ({@link HeadParser}) in both directions and for the framing decided from a head
 * ({@link BodyFraming}). Input: {@link FuzzInput} parameters (limits within the ranges the configuration allows, the
 * cuts between reads, options), then the bytes a client or upstream sent. What holds for every input:
 * <ul>
 *   <li>nothing but {@link ProxyException} (the parser's refusal) escapes;</li>
 *   <li>the bytes cut into reads as a connection cumulates them give what one read gives: the same heads (several
 *   when requests are pipelined or interim responses come first), the same bytes consumed, the same refusal;</li>
 *   <li>a head is refused, incomplete, or accepted with its fields exactly as an independent reading of RFC 9112
 *   and RFC 9110 with Sluice's stricter rules and limits says ({@link #expect});</li>
 *   <li>a refused or incomplete head consumes nothing (a request's few empty lines before it aside): nothing of it
 *   can be forwarded;</li>
 *   <li>an accepted head ends at the first empty line, every line of it became one field, names are tokens and
 *   values hold no CR, LF, NUL or other control; encoded again it parses to the same fields;</li>
 *   <li>the framing is one of no body, one Content-Length (every value the same number), chunked (Transfer-Encoding
 *   ending in one chunked, no Content-Length) or (responses only) until close; a request with both or with
 *   Transfer-Encoding on HTTP/1.0 is refused;</li>
 *   <li>the head Sluice forwards (hop-by-hop fields stripped as {@link Exchange} does) is framed by Sluice and by
 *   Netty's decoder as Sluice framed the original, and Netty reads the same fields from it.</li>
 * </ul>
 */
class HeadFuzzTest {
    /** Heap buffers without leak tracking: the fuzz loop allocates millions. */
    private static final ByteBufAllocator ALLOC = new UnpooledByteBufAllocator(false, true);
    private static final Pattern DIGITS = Pattern.compile("[0-9]+");
    private static final String TOKEN_CHARS = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
    private static final Pattern TOKEN = Pattern.compile(TOKEN_CHARS);
    /** RFC 9112 3: method SP request-target SP HTTP-version; a target of visible ASCII only. */
    private static final Pattern REQUEST_LINE = Pattern.compile("(" + TOKEN_CHARS + ") ([\\x21-\\x7E]+) HTTP/([0-9])\\.([0-9])");
    /** RFC 9112 4: HTTP-version SP 3DIGIT [SP reason-phrase] (the SP may go with an empty reason). */
    private static final Pattern STATUS_LINE = Pattern.compile("HTTP/([0-9])\\.([0-9]) ([0-9]{3})(?: ([\\t\\x20-\\x7E\\x80-\\xFF]*))?");
    /** RFC 9110 5, RFC 9112 5: field-name ":" OWS field-value OWS; VCHAR, obs-text, SP and HTAB in the value. */
    private static final Pattern FIELD_LINE = Pattern.compile("(" + TOKEN_CHARS + "):[ \\t]*([\\t\\x20-\\x7E\\x80-\\xFF]*?)[ \\t]*");
    /** Limits for parsing Sluice's own output again: larger than anything a fuzz input brings. */
    private static final int REPARSE_LIMIT = 1 << 20;
    private static final HttpDecoderConfig NETTY = new HttpDecoderConfig().setMaxInitialLineLength(REPARSE_LIMIT)
            .setMaxHeaderSize(REPARSE_LIMIT).setStrictLineParsing(true);

    /** Heads read from one input at most: pipelined requests, interim responses before the final one. */
    private static final int MAX_HEADS = 4;

    /**
     * What a connection's parser made of the bytes: the heads it returned in turn, with the offset just past each,
     * then a refusal or neither (more bytes needed), and all the bytes it consumed.
     */
    record Outcome(List<HttpHead> heads, List<Integer> ends, Failure failure, int consumed) {
        List<List<String>> fields() {
            return heads.stream().map(h -> HeadFuzzTest.fields(h, true)).toList();
        }
    }

    /**
     * Parameters: 0 max-request-target (64 + 8n, or 255 for the largest int), 1 max-header-size (256 + 16n, or 255
     * for the largest int), 2 max-request-body (1000n, 0 = none), 3-6 the lengths of the first reads.
     */
    @FuzzTest
    void requestHead(byte[] input) {
        FuzzInput in = new FuzzInput(input, 7);
        int maxTarget = in.param(0) == 255 ? Integer.MAX_VALUE : 64 + 8 * in.param(0);
        int maxHead = in.param(1) == 255 ? Integer.MAX_VALUE : 256 + 16 * in.param(1);
        long maxBody = 1000L * in.param(2);
        byte[] msg = in.message;
        Supplier<String> what = () -> "request " + show(msg) + " maxTarget=" + maxTarget + " maxHead=" + maxHead;

        Outcome whole = parse(new HeadParser(true, maxHead, maxTarget), List.of(msg));
        Outcome reads = parse(new HeadParser(true, maxHead, maxTarget), in.pieces(3, 4));
        assertSameOutcome(whole, reads, () -> what.get() + " in reads " + lengths(in.pieces(3, 4)));
        int at = 0;
        for (int i = 0; i < whole.heads.size(); i++) {
            byte[] rest = Arrays.copyOfRange(msg, at, msg.length);
            int n = i + 1;
            Supplier<String> which = () -> what.get() + ", head " + n;
            int end = whole.ends.get(i) - at;
            assertAccepted(expect(rest, true, maxHead, maxTarget), whole.heads.get(i), end, which);
            checkRequest(whole.heads.get(i), rest, end, maxHead, maxTarget, maxBody, which);
            at = whole.ends.get(i);
        }
        if (whole.heads.size() < MAX_HEADS) {
            byte[] rest = Arrays.copyOfRange(msg, at, msg.length);
            assertNotAccepted(expect(rest, true, maxHead, maxTarget), whole.failure, what);
            int empty = emptyLines(rest, whole.consumed - at);
            assertTrue(empty >= 0 && empty <= 4, () -> "refused or incomplete, yet consumed (" + whole.consumed + " bytes): "
                    + what.get());
        }
    }

    /** An accepted request head: its fields, its framing, and the head forwarded upstream. */
    private static void checkRequest(HttpHead h, byte[] msg, int end, int maxHead, int maxTarget, long maxBody,
            Supplier<String> what) {
        checkHead(h, msg, end, maxHead, what);
        int empty = emptyLines(msg, end - h.wireLength);
        assertTrue(empty >= 0 && empty <= 4, () -> "only up to 4 empty lines may come before the head: " + what.get());
        assertTrue(TOKEN.matcher(h.method).matches(), what);
        assertTrue(!h.target.isEmpty() && h.target.length() <= maxTarget, what);
        for (int i = 0; i < h.target.length(); i++) {
            char c = h.target.charAt(i);
            assertTrue(c > 0x20 && c < 0x7f, what);
        }
        assertTrue(h.minorVersion == 0 || h.minorVersion == 1, what);

        // encoded as it goes upstream, Sluice reads it as it read the original (always as HTTP/1.1)
        HttpHead again = reparse(encode(h, true), true, what);
        assertEquals(fields(h, false), fields(again, false), what);
        assertEquals(1, again.minorVersion, what);

        BodyFraming framing;
        try {
            framing = BodyFraming.ofRequest(h, maxBody);
        } catch (ProxyException e) {
            assertTrue(e.failure == Failure.BAD_REQUEST || (e.failure == Failure.PAYLOAD_TOO_LARGE && maxBody > 0),
                    () -> e.failure + ": " + what.get());
            if (e.failure == Failure.PAYLOAD_TOO_LARGE) {
                assertTrue(h.count("Transfer-Encoding") == 0
                        && contentLength(h).compareTo(BigInteger.valueOf(maxBody)) > 0, what);
            }
            return;
        }
        checkFraming(h, framing, true, what);
        assertTrue(h.count("Transfer-Encoding") == 0 || (h.count("Content-Length") == 0 && h.minorVersion == 1),
                () -> "accepted Transfer-Encoding with Content-Length or on HTTP/1.0 as " + framing + ": " + what.get());
        assertTrue(maxBody == 0 || framing.length() <= maxBody, what);

        // the head as forwarded: hop-by-hop fields stripped, Transfer-Encoding added back for a chunked body
        HttpHead fwd = copy(h);
        HeaderRules.stripHopByHop(fwd);
        if (framing.framing() == Framing.CHUNKED) {
            fwd.add("Transfer-Encoding", framing.transferEncoding());
        }
        assertEquals(h.count("Host"), fwd.count("Host"), () -> "Host stripped: " + what.get());
        byte[] wire = encode(fwd, true);
        try {
            BodyFraming seen = BodyFraming.ofRequest(reparse(wire, true, what), 0);
            assertEquals(framing.framing(), seen.framing(), () -> "forwarded head framed otherwise: " + what.get());
            assertEquals(framing.length(), seen.length(), () -> "forwarded head framed otherwise: " + what.get());
        } catch (ProxyException e) {
            fail("forwarded head refused (" + e.reason() + "): " + what.get());
        }
        nettyReads(wire, true, fwd, framing, what);
    }

    /**
     * Parameters: 0 max-response-header-size (256 + 16n, or 255 for the largest int), 1 options (bit 0: the request
     * was HEAD; bit 1: the client speaks HTTP/1.0, so a chunked body is de-chunked), 2-5 the lengths of the first
     * reads.
     */
    @FuzzTest
    void responseHead(byte[] input) {
        FuzzInput in = new FuzzInput(input, 6);
        int maxHead = in.param(0) == 255 ? Integer.MAX_VALUE : 256 + 16 * in.param(0);
        String method = (in.param(1) & 1) != 0 ? "HEAD" : "GET";
        boolean dechunk = (in.param(1) & 2) != 0;
        byte[] msg = in.message;
        Supplier<String> what = () -> "response " + show(msg) + " maxHead=" + maxHead + " to " + method;

        Outcome whole = parse(new HeadParser(false, maxHead, Integer.MAX_VALUE), List.of(msg));
        Outcome reads = parse(new HeadParser(false, maxHead, Integer.MAX_VALUE), in.pieces(2, 4));
        assertSameOutcome(whole, reads, () -> what.get() + " in reads " + lengths(in.pieces(2, 4)));
        assertTrue(whole.failure == null || whole.failure == Failure.BAD_GATEWAY, what);
        int at = 0;
        for (int i = 0; i < whole.heads.size(); i++) {
            byte[] rest = Arrays.copyOfRange(msg, at, msg.length);
            int n = i + 1;
            Supplier<String> which = () -> what.get() + ", head " + n;
            int end = whole.ends.get(i) - at;
            assertAccepted(expect(rest, false, maxHead, Integer.MAX_VALUE), whole.heads.get(i), end, which);
            assertEquals(whole.heads.get(i).wireLength, end, () -> "consumed more than the head: " + which.get());
            checkResponse(whole.heads.get(i), rest, end, maxHead, method, dechunk, which);
            at = whole.ends.get(i);
        }
        if (whole.heads.size() < MAX_HEADS) {
            assertNotAccepted(expect(Arrays.copyOfRange(msg, at, msg.length), false, maxHead, Integer.MAX_VALUE),
                    whole.failure, what);
            assertEquals(at, whole.consumed, () -> "consumed without a head: " + what.get());
        }
    }

    /** An accepted response head: its fields, its framing, and the head forwarded to the client. */
    private static void checkResponse(HttpHead h, byte[] msg, int end, int maxHead, String method, boolean dechunk,
            Supplier<String> what) {
        checkHead(h, msg, end, maxHead, what);
        assertTrue(h.status >= 100 && h.status <= 599, what);
        for (int i = 0; i < h.reasonPhrase.length(); i++) {
            char c = h.reasonPhrase.charAt(i);
            assertTrue((c >= 0x20 || c == '\t') && c != 0x7f && c <= 0xff, what);
        }
        assertEquals(fields(h, false), fields(reparse(encode(h, false), false, what), false), what);

        BodyFraming framing;
        try {
            framing = BodyFraming.ofResponse(h, method);
        } catch (ProxyException e) {
            assertEquals(Failure.BAD_GATEWAY, e.failure, what);
            assertTrue(h.count("Content-Length") > 0, () -> "refused without a Content-Length: " + what.get());
            return;
        }
        if (method.equals("HEAD") || h.status < 200 || h.status == 204 || h.status == 304) {
            assertEquals(Framing.NONE, framing.framing(), what);
            return;
        }
        checkFraming(h, framing, false, what);

        // as forwarded (Exchange.responseHead): stripped, Transfer-Encoding added back unless de-chunked
        HttpHead fwd = copy(h);
        HeaderRules.stripHopByHop(fwd);
        boolean chunked = framing.framing() == Framing.CHUNKED;
        if (chunked && !dechunk) {
            fwd.add("Transfer-Encoding", framing.transferEncoding());
        }
        Framing expected = chunked && dechunk ? Framing.UNTIL_CLOSE : framing.framing();
        byte[] wire = encode(fwd, false);
        try {
            BodyFraming seen = BodyFraming.ofResponse(reparse(wire, false, what), method);
            assertEquals(expected, seen.framing(), () -> "forwarded head framed otherwise: " + what.get());
            assertEquals(framing.length(), seen.length(), () -> "forwarded head framed otherwise: " + what.get());
        } catch (ProxyException e) {
            fail("forwarded head refused (" + e.reason() + "): " + what.get());
        }
        nettyReads(wire, false, fwd, new BodyFraming(expected, framing.length(), null), what);
    }

    /** Sluice reading a head it encoded itself: exactly one head, all of the bytes. */
    private static HttpHead reparse(byte[] wire, boolean request, Supplier<String> what) {
        Outcome o = parse(new HeadParser(request, REPARSE_LIMIT, request ? REPARSE_LIMIT : Integer.MAX_VALUE), List.of(wire));
        assertTrue(o.heads.size() == 1 && o.failure == null && o.consumed == wire.length,
                () -> "Sluice's own head read otherwise (" + o.failure + "): " + show(wire) + " from " + what.get());
        return o.heads.getFirst();
    }

    /** What the independent reading expects: refused, incomplete (no fields), or a head ending at {@code end}. */
    record Expected(boolean refused, List<String> fields, int end) {
        static final Expected REFUSED = new Expected(true, null, 0);
        static final Expected INCOMPLETE = new Expected(false, null, 0);
    }

    /**
     * Reads a head as RFC 9112 (2.2, 3, 4, 5) and RFC 9110 5 write it, with the rules Sluice adds: lines end in
     * CRLF or a bare LF, up to 4 empty lines before a request line are skipped, no obs-fold and no whitespace before
     * the colon, HTTP/1.x only, a status in 100-599, a target of visible ASCII; and its limits: the head within
     * max-header-size, the request line (bytes before its LF) within max-request-target + 32, the target within
     * max-request-target. A limit is checked on the bytes there are even when the head is incomplete.
     */
    static Expected expect(byte[] b, boolean request, int maxHead, int maxTarget) {
        int start = 0;
        for (int n = 0; request && n < 4; n++) {
            if (start + 1 < b.length && b[start] == '\r' && b[start + 1] == '\n') {
                start += 2;
            } else if (start < b.length && b[start] == '\n') {
                start++;
            } else {
                break;
            }
        }
        int end = firstEmptyLine(b, start);
        int length = (end < 0 ? b.length : end) - start;
        if (length > maxHead) {
            return Expected.REFUSED;
        }
        if (request) {
            int lf = start;
            while (lf < start + length && b[lf] != '\n') {
                lf++;
            }
            if (lf - start > maxTarget + 32L) {
                return Expected.REFUSED;
            }
        }
        if (end < 0) {
            return Expected.INCOMPLETE;
        }
        List<String> lines = new ArrayList<>();
        for (int from = start, i = start; i < end; i++) {
            if (b[i] == '\n') {
                int to = i > from && b[i - 1] == '\r' ? i - 1 : i;
                lines.add(new String(b, from, to - from, java.nio.charset.StandardCharsets.ISO_8859_1));
                from = i + 1;
            }
        }
        List<String> fields = new ArrayList<>();
        Matcher first = (request ? REQUEST_LINE : STATUS_LINE).matcher(lines.getFirst());
        if (!first.matches()) {
            return Expected.REFUSED;
        }
        String minor;
        if (request) {
            if (!first.group(3).equals("1") || first.group(2).length() > maxTarget) {
                return Expected.REFUSED;
            }
            fields.add(first.group(1));
            fields.add(first.group(2));
            minor = first.group(4);
        } else {
            int status = Integer.parseInt(first.group(3));
            if (!first.group(1).equals("1") || status < 100 || status > 599) {
                return Expected.REFUSED;
            }
            fields.add(status + " " + (first.group(4) == null ? "" : first.group(4)));
            minor = first.group(2);
        }
        for (String line : lines.subList(1, lines.size() - 1)) {
            Matcher m = FIELD_LINE.matcher(line);
            if (!m.matches()) {
                return Expected.REFUSED;
            }
            fields.add(m.group(1));
            fields.add(m.group(2));
        }
        fields.add("HTTP/1." + (minor.equals("0") ? 0 : 1) + ", " + (end - start) + " bytes");
        return new Expected(false, fields, end);
    }

    private static void assertAccepted(Expected expected, HttpHead h, int end, Supplier<String> what) {
        assertTrue(!expected.refused && expected.fields != null, () -> "accepted: " + what.get());
        assertEquals(expected.fields, fields(h, true), () -> "read otherwise: " + what.get());
        assertEquals(expected.end, end, () -> "ends elsewhere: " + what.get());
    }

    private static void assertNotAccepted(Expected expected, Failure failure, Supplier<String> what) {
        assertEquals(expected.refused, failure != null, () -> (expected.refused ? "not refused: " : "refused ("
                + failure + "): ") + what.get());
        assertTrue(expected.refused || expected.fields == null, () -> "a complete head not read: " + what.get());
    }

    /**
     * Feeds the pieces to the parser as a connection does: each read appended to the cumulation, then heads parsed
     * from it while there are bytes, until one is incomplete or refused.
     */
    static Outcome parse(HeadParser parser, List<byte[]> pieces) {
        List<HttpHead> heads = new ArrayList<>();
        List<Integer> ends = new ArrayList<>();
        ByteBuf cumulation = null;
        int appended = 0;
        try {
            for (byte[] piece : pieces) {
                ByteBuf read = ALLOC.heapBuffer(piece.length).writeBytes(piece);
                cumulation = cumulation == null ? read
                        : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ALLOC, cumulation, read);
                appended += piece.length;
                while (cumulation.isReadable() && heads.size() < MAX_HEADS) {
                    HttpHead head;
                    try {
                        head = parser.parse(cumulation);
                    } catch (ProxyException e) {
                        return new Outcome(heads, ends, e.failure, appended - cumulation.readableBytes());
                    }
                    if (head == null) {
                        break;
                    }
                    heads.add(head);
                    ends.add(appended - cumulation.readableBytes());
                }
            }
            return new Outcome(heads, ends, null, appended - (cumulation == null ? 0 : cumulation.readableBytes()));
        } finally {
            if (cumulation != null) {
                cumulation.release();
            }
        }
    }

    private static void assertSameOutcome(Outcome whole, Outcome reads, Supplier<String> what) {
        assertEquals(whole.failure, reads.failure, () -> "refusal differs: " + what.get());
        assertEquals(whole.fields(), reads.fields(), () -> "heads differ: " + what.get());
        assertEquals(whole.ends, reads.ends, () -> "heads end elsewhere: " + what.get());
        assertEquals(whole.consumed, reads.consumed, () -> "consumed differs: " + what.get());
    }

    /** What holds for any accepted head: where it ends, one field per line, clean names and values. */
    private static void checkHead(HttpHead h, byte[] msg, int consumed, int maxHead, Supplier<String> what) {
        int start = consumed - h.wireLength;
        assertTrue(h.wireLength <= maxHead, what);
        int end = firstEmptyLine(msg, start);
        assertEquals(consumed, end, () -> "the head does not end at its first empty line: " + what.get());
        int lines = 0;
        for (int i = start; i < end; i++) {
            if (msg[i] == '\n') {
                lines++;
            }
        }
        assertEquals(lines, h.size() + 2, () -> "a line was dropped or merged: " + what.get());
        for (int i = 0; i < h.size(); i++) {
            String name = h.names.get(i);
            String value = h.values.get(i);
            assertTrue(TOKEN.matcher(name).matches(), () -> "field name " + name + ": " + what.get());
            for (int k = 0; k < value.length(); k++) {
                char c = value.charAt(k);
                assertTrue((c >= 0x20 || c == '\t') && c != 0x7f && c <= 0xff,
                        () -> "field value " + show(value.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1))
                                + ": " + what.get());
            }
            assertTrue(value.isEmpty() || (!isOws(value.charAt(0)) && !isOws(value.charAt(value.length() - 1))),
                    () -> "untrimmed value: " + what.get());
        }
    }

    /** The framing decided for a message that may have a body (no HEAD, 1xx, 204, 304). */
    private static void checkFraming(HttpHead h, BodyFraming f, boolean request, Supplier<String> what) {
        int te = h.count("Transfer-Encoding");
        int cl = h.count("Content-Length");
        switch (f.framing()) {
            case CHUNKED -> {
                assertTrue(te > 0 && cl == 0 && f.length() == 0, what);
                assertEquals(codings(h.joined("Transfer-Encoding")), codings(f.transferEncoding()), what);
                assertTrue(endsInOneChunked(f.transferEncoding()), what);
            }
            case LENGTH -> {
                assertTrue(te == 0 && cl > 0 && f.transferEncoding() == null, what);
                assertTrue(request ? f.length() > 0 : f.length() >= 0, what);
                assertEquals(BigInteger.valueOf(f.length()), contentLength(h), what);
            }
            case NONE -> {
                assertTrue(request, () -> "a response that may have a body framed as none: " + what.get());
                assertTrue(te == 0 && f.length() == 0 && f.transferEncoding() == null, what);
                assertTrue(cl == 0 || contentLength(h).signum() == 0, what);
            }
            case UNTIL_CLOSE -> {
                assertTrue(!request, () -> "a request body is never delimited by the close: " + what.get());
                assertTrue(cl == 0 && f.length() == 0 && f.transferEncoding() == null, what);
                assertTrue(te == 0 || !endsInOneChunked(h.joined("Transfer-Encoding")),
                        () -> "read until close though Transfer-Encoding ends in chunked: " + what.get());
            }
        }
    }

    /**
     * Netty's decoder reads the forwarded head with the same method, target (or status), fields and framing, when it
     * accepts it at all (it is stricter in places, e.g. on list-form Content-Length: a refusal upstream is no desync).
     */
    private static void nettyReads(byte[] wire, boolean request, HttpHead fwd, BodyFraming f, Supplier<String> what) {
        HttpObjectDecoder decoder = request ? new HttpRequestDecoder(NETTY) : new HttpResponseDecoder(NETTY);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(wire));
            Object o = ch.readInbound();
            if (!(o instanceof HttpMessage m) || !m.decoderResult().isSuccess()) {
                return;
            }
            if (m instanceof HttpRequest r) {
                assertEquals(fwd.method, r.method().name(), what);
                assertEquals(fwd.target, r.uri(), what);
            } else {
                assertEquals(fwd.status, ((HttpResponse) m).status().code(), what);
            }
            List<String> netty = new ArrayList<>();
            for (Map.Entry<String, String> e : m.headers()) {
                netty.add(e.getKey());
                netty.add(e.getValue());
            }
            assertEquals(fields(fwd, false).subList(request ? 2 : 1, fields(fwd, false).size()), netty,
                    () -> "Netty reads other fields: " + what.get());
            boolean chunked = HttpUtil.isTransferEncodingChunked(m);
            long length = HttpUtil.getContentLength(m, -1L);
            switch (f.framing()) {
                case CHUNKED -> assertTrue(chunked, () -> "Netty does not read chunked: " + what.get());
                case LENGTH -> assertTrue(!chunked && length == f.length(),
                        () -> "Netty reads another length (" + length + "): " + what.get());
                case NONE -> assertTrue(!chunked && (length == -1 || length == 0), () -> "Netty reads a body: " + what.get());
                case UNTIL_CLOSE -> assertTrue(!chunked && length == -1, () -> "Netty reads a framed body: " + what.get());
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** Method, target (or status, reason) and the fields in order; with {@code wire}, also the version and length. */
    static List<String> fields(HttpHead h, boolean wire) {
        List<String> out = new ArrayList<>();
        if (h.method != null) {
            out.add(h.method);
            out.add(h.target);
        } else {
            out.add(h.status + " " + h.reasonPhrase);
        }
        for (int i = 0; i < h.size(); i++) {
            out.add(h.names.get(i));
            out.add(h.values.get(i));
        }
        if (wire) {
            out.add("HTTP/1." + h.minorVersion + ", " + h.wireLength + " bytes");
        }
        return out;
    }

    private static HttpHead copy(HttpHead h) {
        HttpHead c = new HttpHead();
        c.method = h.method;
        c.target = h.target;
        c.status = h.status;
        c.reasonPhrase = h.reasonPhrase;
        c.minorVersion = h.minorVersion;
        for (int i = 0; i < h.size(); i++) {
            c.add(h.names.get(i), h.values.get(i));
        }
        return c;
    }

    private static byte[] encode(HttpHead h, boolean request) {
        ByteBuf b = request ? h.encodeRequest(ALLOC) : h.encodeResponse(ALLOC);
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    /** The single number every Content-Length value (list elements included) states; fails the test otherwise. */
    private static BigInteger contentLength(HttpHead h) {
        BigInteger value = null;
        for (int i = 0; i < h.size(); i++) {
            if (!h.names.get(i).equalsIgnoreCase("Content-Length")) {
                continue;
            }
            for (String part : h.values.get(i).split(",", -1)) {
                String p = part.strip();
                assertTrue(DIGITS.matcher(p).matches(), () -> "Content-Length value " + p + " accepted");
                BigInteger v = new BigInteger(p);
                assertTrue(value == null || value.equals(v), () -> "differing Content-Length values accepted");
                value = v;
            }
        }
        assertNotNull(value);
        return value;
    }

    /** A Transfer-Encoding value's codings: its list elements, the empty ones ignored (RFC 9110 5.6.1). */
    private static List<String> codings(String te) {
        List<String> codings = new ArrayList<>();
        for (String c : te.split(",")) {
            if (!c.isBlank()) {
                codings.add(c.strip());
            }
        }
        return codings;
    }

    /** RFC 9112 6.1: the last coding is chunked, and chunked is not applied twice. */
    private static boolean endsInOneChunked(String te) {
        List<String> codings = codings(te);
        return !codings.isEmpty() && codings.getLast().equalsIgnoreCase("chunked")
                && codings.stream().filter(c -> c.equalsIgnoreCase("chunked")).count() == 1;
    }

    /** Index just past the first empty line (LF LF or LF CR LF) at or after {@code from}, or -1. */
    private static int firstEmptyLine(byte[] b, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == '\n') {
                if (i + 1 < b.length && b[i + 1] == '\n') {
                    return i + 2;
                }
                if (i + 2 < b.length && b[i + 1] == '\r' && b[i + 2] == '\n') {
                    return i + 3;
                }
            }
        }
        return -1;
    }

    /** How many empty lines (CRLF or LF) make up {@code b[0, n)} exactly, or -1 when anything else is there. */
    private static int emptyLines(byte[] b, int n) {
        int lines = 0;
        for (int i = 0; i < n; i++) {
            if (b[i] == '\r' && i + 1 < n && b[i + 1] == '\n') {
                i++;
            } else if (b[i] != '\n') {
                return -1;
            }
            lines++;
        }
        return lines;
    }

    private static boolean isOws(char c) {
        return c == ' ' || c == '\t';
    }

    private static List<Integer> lengths(List<byte[]> pieces) {
        return pieces.stream().map(p -> p.length).toList();
    }
}
