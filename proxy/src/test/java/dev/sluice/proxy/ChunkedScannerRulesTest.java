package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chunked scanner's rules (RFC 9112 7.1), one row each: a body it accepts (how many payload bytes, where the
 * body ends) or refuses. Every row is also scanned a byte at a time and must get the same answer.
 */
class ChunkedScannerRulesTest {
    /** "payload N, ends at M" for an accepted body, "incomplete", or the refusal's Failure (requests: 400). */
    static Stream<Arguments> bodies() {
        return Stream.of(
                ok("one chunk", "5\r\nhello\r\n0\r\n\r\n", 5),
                ok("no chunk: the last chunk only", "0\r\n\r\n", 0),
                ok("several chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5),
                ok("hex in lowercase", "a\r\n0123456789\r\n0\r\n\r\n", 10),
                ok("hex in uppercase", "A\r\n0123456789\r\n0\r\n\r\n", 10),
                ok("leading zeros", "005\r\nhello\r\n000\r\n\r\n", 5),
                ok("15 hex digits is the most", "000000000000005\r\nhello\r\n0\r\n\r\n", 5),
                ok("extension name only", "5;a\r\nhello\r\n0\r\n\r\n", 5),
                ok("extension with a token value", "5;a=b\r\nhello\r\n0\r\n\r\n", 5),
                ok("extension with a quoted value", "5;a=\"x y\"\r\nhello\r\n0\r\n\r\n", 5),
                ok("quoted-pair in a quoted value", "5;a=\"x\\\"y\"\r\nhello\r\n0\r\n\r\n", 5),
                ok("several extensions", "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n", 5),
                ok("BWS before ';'", "5 \t;a\r\nhello\r\n0\r\n\r\n", 5),
                ok("BWS after ';'", "5; a\r\nhello\r\n0\r\n\r\n", 5),
                ok("BWS around '='", "5;a = b\r\nhello\r\n0\r\n\r\n", 5),
                ok("extension on the last chunk", "0;a=b\r\n\r\n", 0),
                ok("trailer fields", "0\r\nX-Sum: 1\r\nY: \r\n\r\n", 0),
                ok("bytes after the body are not its", "0\r\n\r\nGET / HTTP/1.1\r\n", 0, 16),
                ok("a complete chunk of a body still coming", "5\r\nhello\r\n", -1),

                refused("no size", "\r\nhello\r\n0\r\n\r\n"),
                refused("extension without a size", ";a\r\n"),
                refused("16 hex digits, even as leading zeros", "0000000000000005\r\nhello\r\n0\r\n\r\n"),
                refused("size over 15 hex digits", "1000000000000000\r\n"),
                refused("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
                refused("sign", "+5\r\nhello\r\n0\r\n\r\n"),
                refused("letter after the size", "5g\r\nhello\r\n0\r\n\r\n"),
                refused("bare LF after the size", "5\nhello\r\n0\r\n\r\n"),
                refused("CR without LF after the size", "5\rhello\r\n0\r\n\r\n"),
                refused("whitespace after the size without an extension", "5 \r\nhello\r\n0\r\n\r\n"),
                refused("whitespace after an extension", "5;a \r\nhello\r\n0\r\n\r\n"),
                refused("whitespace inside an extension name", "5;a b\r\nhello\r\n0\r\n\r\n"),
                refused("';' without a name", "5;\r\nhello\r\n0\r\n\r\n"),
                refused("'=' without a name", "5;=b\r\nhello\r\n0\r\n\r\n"),
                refused("'=' without a value", "5;a=\r\nhello\r\n0\r\n\r\n"),
                refused("extension name not a token", "5;a(b\r\nhello\r\n0\r\n\r\n"),
                refused("junk after a quoted value", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"),
                refused("CR in a quoted value", "5;a=\"x\r\nhello\r\n0\r\n\r\n"),
                refused("control character in a quoted value", "5;a=\"x\u0001\"\r\nhello\r\n0\r\n\r\n"),
                refused("chunk line over 4096 bytes", "5;a=" + "b".repeat(4100) + "\r\nhello\r\n0\r\n\r\n"),
                refused("more data than the size", "5\r\nhello!\r\n0\r\n\r\n"),
                refused("bare LF after the data", "5\r\nhello\n0\r\n\r\n"),
                refused("CR without LF after the data", "5\r\nhello\r0\r\n\r\n"),
                refused("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"),
                refused("trailer without colon", "0\r\nX a\r\n\r\n"),
                refused("trailer with whitespace before the colon", "0\r\nX : a\r\n\r\n"),
                refused("bare LF inside the trailer section", "0\r\nX: a\nY: b\r\n\r\n"),
                refused("control character in a trailer value", "0\r\nX: a\u0000\r\n\r\n"),
                refused("last line CR not followed by LF", "0\r\n\rX"),
                refused("trailer section over 64 KiB", "0\r\n" + ("X: " + "v".repeat(1000) + "\r\n").repeat(70) + "\r\n"));
    }

    private static Arguments ok(String rule, String body, long payload) {
        return ok(rule, body, payload, 0);
    }

    /** {@code payload} -1: the body is not complete yet; {@code after}: bytes after the body's end. */
    private static Arguments ok(String rule, String body, long payload, int after) {
        return Arguments.of(rule, body, payload < 0 ? "incomplete" : "payload " + payload + ", ends at " + (body.length() - after));
    }

    private static Arguments refused(String rule, String body) {
        return Arguments.of(rule, body, Failure.BAD_REQUEST);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void requestBody(String rule, String body, Object expected) {
        assertEquals(expected, scan(body, body.length()), "whole");
        assertEquals(expected, scan(body, 1), "a byte at a time");
    }

    /** The same rules for a response, refused as a bad gateway. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void responseBody_refusedAs502(String rule, String body, Object expected) {
        ByteBuf in = Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.ISO_8859_1));
        if (expected instanceof Failure) {
            assertEquals(Failure.BAD_GATEWAY, assertThrows(ProxyException.class,
                    () -> new ChunkedScanner(false).scan(in, 0, in.writerIndex(), null)).failure);
        }
    }

    private static Object scan(String body, int step) {
        ChunkedScanner s = new ChunkedScanner(true);
        ByteBuf in = Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.ISO_8859_1));
        int pos = 0;
        try {
            while (pos < in.writerIndex() && !s.done()) {
                int to = Math.min(pos + step, in.writerIndex());
                pos += s.scan(in, pos, to, null);
            }
        } catch (ProxyException e) {
            return e.failure;
        }
        return s.done() ? "payload " + s.payloadBytes() + ", ends at " + pos : "incomplete";
    }

    /** Fields that frame, route or control the connection are dropped from trailers (RFC 9110 6.5.1); others pass. */
    static Stream<Arguments> trailers() {
        return Stream.of(
                Arguments.of("X-Checksum: 1\r\n", null),
                Arguments.of("Content-Length: 5\r\n", ""),
                Arguments.of("Transfer-Encoding: chunked\r\n", ""),
                Arguments.of("Host: b\r\n", ""),
                Arguments.of("Connection: close\r\n", ""),
                Arguments.of("Keep-Alive: 5\r\n", ""),
                Arguments.of("TE: trailers\r\n", ""),
                Arguments.of("Trailer: X\r\n", ""),
                Arguments.of("Upgrade: h2c\r\n", ""),
                Arguments.of("Proxy-Authorization: x\r\n", ""),
                Arguments.of("content-length: 5\r\nX-Checksum: 1\r\n", "X-Checksum: 1\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("trailers")
    void trailerSection_dropsFramingAndConnectionFields(String fields, String rebuilt) throws ProxyException {
        String body = "0\r\n" + fields + "\r\n";
        ChunkedScanner s = new ChunkedScanner(true);
        ByteBuf in = Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(body.length(), s.scan(in, 0, in.writerIndex(), null));
        byte[] out = s.rewrittenTrailers();
        if (rebuilt == null) {
            assertEquals(null, out, "kept as it came");
            assertEquals(body.length(), s.verbatim());
        } else {
            assertEquals(3, s.verbatim(), "the last chunk's line passes, the section is rebuilt");
            assertEquals(rebuilt + "\r\n", new String(out, StandardCharsets.ISO_8859_1));
        }
    }
}
