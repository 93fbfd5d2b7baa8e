package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The head parser on its own: what {@code HeadFuzzTest} found. A head gets the same answer however its bytes are
 * cut into reads; obs-text is field content.
 */
class HeadParserTest {
    private static ByteBuf buf(String s) {
        return Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Parses the parts as successive reads appended to one buffer; returns the head or throws the refusal. */
    private static HttpHead inReads(HeadParser p, String... parts) throws ProxyException {
        ByteBuf in = Unpooled.buffer();
        HttpHead head = null;
        for (String part : parts) {
            in.writeBytes(part.getBytes(StandardCharsets.ISO_8859_1));
            head = p.parse(in);
        }
        return head;
    }

    private static Failure refusal(HeadParser p, String... parts) {
        return assertThrows(ProxyException.class, () -> inReads(p, parts)).failure;
    }

    /** A request line over max-request-target + 32 is 414 whole as in pieces (it was 400, or parsed, whole). */
    @Test
    void requestLineOverTheLimit_is414_howeverItArrives() {
        String line = "G" + "p".repeat(100) + " / HTTP/1.1\r\n\r\n"; // a long method: a valid token, not a long target
        assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 4096, 64), line));
        assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 4096, 64), line.substring(0, 100), line.substring(100)));
        // complete line, incomplete head: refused now, not when the head ends
        assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 4096, 64), "GET /" + "a".repeat(100) + " HTTP/1.1\r\nHost: a\r\n"));
        assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 4096, 64), "GET /" + "a".repeat(100) + " HTTP/1.1\r\nHost: a\r\n", "\r\n"));
    }

    /** max-request-target may be the largest int: the line limit must not overflow into "every partial head is 414". */
    @Test
    void largestTargetLimit_partialHeadWaits() throws ProxyException {
        HeadParser p = new HeadParser(true, 4096, Integer.MAX_VALUE);
        ByteBuf in = buf("GET /a HT");
        assertNull(p.parse(in));
        assertEquals(0, in.readerIndex());
        HttpHead h = inReads(new HeadParser(true, 4096, Integer.MAX_VALUE), "GET", " /a HTTP/1.1\r\nHost: a\r\n", "\r\n");
        assertNotNull(h);
        assertEquals("/a", h.target);
    }

    /** With max-request-target + 32 over max-header-size, 414 or 431 depends on the head's first bytes only. */
    @Test
    void tooLargeHead_sameStatusHoweverItArrives() {
        String head = "GET /" + "a".repeat(300) + " HTTP/1.1\r\n\r\n"; // line of 315 bytes, head 317: over 256
        for (int cut : new int[] {100, 257, 300, 316}) {
            assertEquals(Failure.HEADERS_TOO_LARGE, refusal(new HeadParser(true, 256, 400), head.substring(0, cut), head.substring(cut)),
                    "cut at " + cut);
        }
        assertEquals(Failure.HEADERS_TOO_LARGE, refusal(new HeadParser(true, 256, 400), head));
        // a line longer than the limit within the first max-header-size + 1 bytes is 414, in any reads
        for (int cut : new int[] {50, 100, 257, 300}) {
            assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 256, 64), head.substring(0, cut), head.substring(cut)),
                    "cut at " + cut);
        }
        assertEquals(Failure.URI_TOO_LONG, refusal(new HeadParser(true, 256, 64), head));
    }

    /** Up to 4 empty lines before a request line are skipped, counted over reads: a fifth is the (bad) request line. */
    @Test
    void emptyLinesBeforeTheRequestLine_countedOverReads() throws ProxyException {
        String get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assertNotNull(inReads(new HeadParser(true, 4096, 1024), "\r\n".repeat(4) + get));
        assertNotNull(inReads(new HeadParser(true, 4096, 1024), "\r\n\n", "\r\n\r\n", get));
        assertEquals(Failure.BAD_REQUEST, refusal(new HeadParser(true, 4096, 1024), "\r\n".repeat(5) + get));
        assertEquals(Failure.BAD_REQUEST, refusal(new HeadParser(true, 4096, 1024), "\r\n".repeat(4), "\r\n" + get));
        // after a head, the count starts again for the next (pipelined) one
        HeadParser p = new HeadParser(true, 4096, 1024);
        ByteBuf in = buf("\r\n\r\n" + get + "\r\n\r\n\r\n\r\n" + get);
        assertNotNull(p.parse(in));
        assertNotNull(p.parse(in));
        assertEquals(0, in.readableBytes());
    }

    /** obs-text (0x80-0xff) is field content in values and reason phrases (RFC 9110 5.5); controls stay refused. */
    @Test
    void obsText_inValuesAndReason_isAccepted() throws ProxyException {
        HttpHead req = new HeadParser(true, 4096, 1024).parse(buf("GET / HTTP/1.1\r\nHost: a\r\nX-Name: \u00e9t\u00e9\r\n\r\n"));
        assertEquals("\u00e9t\u00e9", req.get("X-Name"));
        HttpHead resp = new HeadParser(false, 4096, Integer.MAX_VALUE).parse(buf(
                "HTTP/1.1 200 Tr\u00e8s bien\r\nContent-Disposition: attachment; filename=\"r\u00c3\u00a9sum\u00c3\u00a9.pdf\"\r\n\r\n"));
        assertEquals("Tr\u00e8s bien", resp.reasonPhrase);
        assertEquals("attachment; filename=\"r\u00c3\u00a9sum\u00c3\u00a9.pdf\"", resp.get("Content-Disposition"));
        for (String bad : List.of("X: a\u0000b", "X: a\u007fb", "X: a\u0001b", "X: a\rb")) {
            assertEquals(Failure.BAD_REQUEST, refusal(new HeadParser(true, 4096, 1024), "GET / HTTP/1.1\r\n" + bad + "\r\n\r\n"), bad);
        }
        assertEquals(Failure.BAD_GATEWAY, refusal(new HeadParser(false, 4096, Integer.MAX_VALUE), "HTTP/1.1 200 O\u007fK\r\n\r\n"));
        // a request target stays visible ASCII
        assertEquals(Failure.BAD_REQUEST, refusal(new HeadParser(true, 4096, 1024), "GET /\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n"));
    }
}
