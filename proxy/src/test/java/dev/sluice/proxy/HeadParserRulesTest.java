package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sluice.proxy.BodyTransfer.Framing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The head parser's rules (RFC 9112 2-5, RFC 9110 5), one row each: what is accepted and how it reads, and what is
 * refused with which status. Every row is also parsed a byte at a time and must get the same answer, since a head
 * arrives in reads cut anywhere. The framing rows (RFC 9112 6) run the parsed head through {@link BodyFraming}, which
 * decides Content-Length and Transfer-Encoding.
 */
class HeadParserRulesTest {
    private static final int MAX_HEAD = 256;
    private static final int MAX_TARGET = 64;

    private static Arguments ok(String rule, String head, String expected) {
        return Arguments.of(rule, head, expected);
    }

    private static Arguments refused(String rule, String head, Failure failure) {
        return Arguments.of(rule, head, failure);
    }

    /** Request heads: expected is "METHOD TARGET 1.MINOR" plus "|name=value" per header field, or the refusal. */
    static Stream<Arguments> requests() {
        return Stream.of(
                ok("origin-form target", "GET /a/b?c=d HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a/b?c=d 1.1|Host=a"),
                ok("absolute-form target", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", "GET http://a/b 1.1|Host=a"),
                ok("asterisk-form target", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * 1.1|Host=a"),
                ok("any token is a method, case kept", "m-search * HTTP/1.1\r\n\r\n", "m-search * 1.1"),
                ok("HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "GET / 1.0"),
                ok("a later HTTP/1 minor is read as 1.1", "GET / HTTP/1.7\r\n\r\n", "GET / 1.1"),
                ok("bare LF ends lines (2.2)", "GET / HTTP/1.1\nHost: a\n\n", "GET / 1.1|Host=a"),
                ok("CRLF and bare LF mixed", "GET / HTTP/1.1\r\nHost: a\n\r\n", "GET / 1.1|Host=a"),
                ok("empty lines before the request line skipped (2.2)", "\r\n\nGET / HTTP/1.1\r\n\r\n", "GET / 1.1"),
                ok("OWS around a value is not part of it (5.1)", "GET / HTTP/1.1\r\nX: \t v w \t\r\n\r\n", "GET / 1.1|X=v w"),
                ok("empty value", "GET / HTTP/1.1\r\nX:\r\n\r\n", "GET / 1.1|X="),
                ok("repeated fields kept in order", "GET / HTTP/1.1\r\nX: 1\r\nx: 2\r\n\r\n", "GET / 1.1|X=1|x=2"),
                ok("obs-text in a value", "GET / HTTP/1.1\r\nX: caf\u00e9\r\n\r\n", "GET / 1.1|X=caf\u00e9"),
                ok("target of exactly max-request-target", "GET /" + "a".repeat(MAX_TARGET - 1) + " HTTP/1.1\r\n\r\n",
                        "GET /" + "a".repeat(MAX_TARGET - 1) + " 1.1"),

                refused("no target", "GET HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("two spaces: an empty target", "GET  / HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("leading space: an empty method", " GET / HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("HTAB is not a separator", "GET\t/ HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("method not a token", "G(T / HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("control character in the target", "GET /a\u0001b HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("DEL in the target", "GET /a\u007fb HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("non-ASCII in the target", "GET /\u00e9 HTTP/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("no version", "GET /\r\n\r\n", Failure.BAD_REQUEST),
                refused("version in lowercase", "GET / http/1.1\r\n\r\n", Failure.BAD_REQUEST),
                refused("two-digit minor version", "GET / HTTP/1.10\r\n\r\n", Failure.BAD_REQUEST),
                refused("space after the version", "GET / HTTP/1.1 \r\n\r\n", Failure.BAD_REQUEST),
                refused("bare CR in the request line", "GET / HTTP/1.1\r\rHost: a\r\n\r\n", Failure.BAD_REQUEST),
                refused("HTTP/2.0 is not HTTP/1", "GET / HTTP/2.0\r\n\r\n", Failure.VERSION_NOT_SUPPORTED),
                refused("HTTP/0.9 is not HTTP/1", "GET / HTTP/0.9\r\n\r\n", Failure.VERSION_NOT_SUPPORTED),
                refused("obs-fold (5.2)", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", Failure.BAD_REQUEST),
                refused("obs-fold by HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", Failure.BAD_REQUEST),
                refused("whitespace before the colon (5.1)", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", Failure.BAD_REQUEST),
                refused("field line without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", Failure.BAD_REQUEST),
                refused("empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n", Failure.BAD_REQUEST),
                refused("field name not a token", "GET / HTTP/1.1\r\nX(y): a\r\n\r\n", Failure.BAD_REQUEST),
                refused("non-ASCII field name", "GET / HTTP/1.1\r\nX\u00e9: a\r\n\r\n", Failure.BAD_REQUEST),
                refused("NUL in a value", "GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n", Failure.BAD_REQUEST),
                refused("bare CR in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", Failure.BAD_REQUEST),
                refused("a fifth empty line is the request line", "\r\n".repeat(5) + "GET / HTTP/1.1\r\n\r\n",
                        Failure.BAD_REQUEST),
                refused("target over max-request-target", "GET /" + "a".repeat(MAX_TARGET) + " HTTP/1.1\r\n\r\n",
                        Failure.URI_TOO_LONG),
                refused("request line over max-request-target + 32", "GET" + "T".repeat(100) + " / HTTP/1.1\r\n\r\n",
                        Failure.URI_TOO_LONG),
                refused("head over max-header-size", "GET / HTTP/1.1\r\nX: " + "v".repeat(MAX_HEAD) + "\r\n\r\n",
                        Failure.HEADERS_TOO_LARGE));
    }

    /** Response heads: expected is "STATUS 1.MINOR REASON" plus header fields as for requests, or the refusal. */
    static Stream<Arguments> responses() {
        return Stream.of(
                ok("status line", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "200 1.1 OK|Content-Length=0"),
                ok("reason with spaces", "HTTP/1.1 404 Not Found\r\n\r\n", "404 1.1 Not Found"),
                ok("no reason, no second space (4)", "HTTP/1.1 204\r\n\r\n", "204 1.1 "),
                ok("empty reason", "HTTP/1.1 204 \r\n\r\n", "204 1.1 "),
                ok("obs-text in the reason", "HTTP/1.1 200 Tr\u00e8s bien\r\n\r\n", "200 1.1 Tr\u00e8s bien"),
                ok("HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\n", "200 1.0 OK"),
                ok("1xx", "HTTP/1.1 100 Continue\r\n\r\n", "100 1.1 Continue"),
                ok("599 is the last status", "HTTP/1.1 599 X\r\n\r\n", "599 1.1 X"),

                refused("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("status below 100", "HTTP/1.1 099 X\r\n\r\n", Failure.BAD_GATEWAY),
                refused("status above 599", "HTTP/1.1 600 X\r\n\r\n", Failure.BAD_GATEWAY),
                refused("letter in the status", "HTTP/1.1 20x OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("two spaces before the status", "HTTP/1.1  200 OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("HTTP/2", "HTTP/2 200 OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", Failure.BAD_GATEWAY),
                refused("control character in the reason", "HTTP/1.1 200 O\u0000K\r\n\r\n", Failure.BAD_GATEWAY),
                refused("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", Failure.BAD_GATEWAY),
                refused("whitespace before the colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", Failure.BAD_GATEWAY),
                refused("head over the limit", "HTTP/1.1 200 OK\r\nX: " + "v".repeat(MAX_HEAD) + "\r\n\r\n",
                        Failure.BAD_GATEWAY));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("requests")
    void request(String rule, String head, Object expected) {
        check(true, head, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("responses")
    void response(String rule, String head, Object expected) {
        check(false, head, expected);
    }

    private static void check(boolean request, String head, Object expected) {
        Object whole = parse(request, head, head.length());
        assertEquals(expected, whole, "whole");
        assertEquals(expected, parse(request, head, 1), "a byte at a time");
    }

    /** The head read in pieces of {@code step} bytes: its description, or the refusal's Failure. */
    private static Object parse(boolean request, String text, int step) {
        HeadParser p = new HeadParser(request, MAX_HEAD, request ? MAX_TARGET : Integer.MAX_VALUE);
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuf in = Unpooled.buffer();
        try {
            for (int i = 0; i < bytes.length; i += step) {
                in.writeBytes(bytes, i, Math.min(step, bytes.length - i));
                HttpHead h = p.parse(in);
                if (h != null) {
                    assertEquals(0, in.readableBytes(), "the head ends where its empty line does");
                    return describe(request, h);
                }
            }
            return "incomplete";
        } catch (ProxyException e) {
            return e.failure;
        }
    }

    private static String describe(boolean request, HttpHead h) {
        StringBuilder s = new StringBuilder(request ? h.method + " " + h.target + " 1." + h.minorVersion
                : h.status + " 1." + h.minorVersion + " " + h.reasonPhrase);
        for (int i = 0; i < h.size(); i++) {
            s.append('|').append(h.names.get(i)).append('=').append(h.values.get(i));
        }
        return s.toString();
    }

    /** The accepted requests (a refusal may come before the head ends). */
    static Stream<Arguments> acceptedRequests() {
        return requests().filter(a -> a.get()[2] instanceof String);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("acceptedRequests")
    void incompleteHead_waitsAndConsumesNothing(String rule, String head, Object expected) throws ProxyException {
        HeadParser p = new HeadParser(true, MAX_HEAD, MAX_TARGET);
        ByteBuf in = Unpooled.buffer().writeBytes(head.substring(0, head.length() - 1).getBytes(StandardCharsets.ISO_8859_1));
        int before = in.readerIndex();
        assertNull(p.parse(in));
        // skipped empty lines before the request line are consumed; nothing of the head itself is
        assertEquals(head.length() - 1 - (in.readerIndex() - before), in.readableBytes());
        in.writeByte(head.charAt(head.length() - 1));
        assertNotNull(p.parse(in));
    }

    // ---- framing (RFC 9112 6), decided from the parsed head ----

    private static Arguments framed(String rule, String fields, Framing framing, long length) {
        return Arguments.of(rule, fields, framing + " " + length);
    }

    private static Arguments framingRefused(String rule, String fields, Failure failure) {
        return Arguments.of(rule, fields, failure.toString());
    }

    static Stream<Arguments> requestFraming() {
        return Stream.of(
                framed("no Content-Length, no Transfer-Encoding: no body", "", Framing.NONE, 0),
                framed("Content-Length", "Content-Length: 5\r\n", Framing.LENGTH, 5),
                framed("Content-Length 0: no body", "Content-Length: 0\r\n", Framing.NONE, 0),
                framed("the same Content-Length twice (6.3)", "Content-Length: 5\r\nContent-Length: 5\r\n", Framing.LENGTH, 5),
                framed("the same Content-Length as a list", "Content-Length: 5, 5\r\n", Framing.LENGTH, 5),
                framed("Transfer-Encoding chunked", "Transfer-Encoding: chunked\r\n", Framing.CHUNKED, 0),
                framed("chunked is case-insensitive", "Transfer-Encoding: Chunked\r\n", Framing.CHUNKED, 0),
                framed("codings before the final chunked", "Transfer-Encoding: gzip, chunked\r\n", Framing.CHUNKED, 0),
                framed("codings over two field lines", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                        Framing.CHUNKED, 0),
                framingRefused("Content-Length values that differ", "Content-Length: 5\r\nContent-Length: 6\r\n",
                        Failure.BAD_REQUEST),
                framingRefused("Content-Length list that differs", "Content-Length: 5, 6\r\n", Failure.BAD_REQUEST),
                framingRefused("Content-Length with a sign", "Content-Length: +5\r\n", Failure.BAD_REQUEST),
                framingRefused("Content-Length in hex", "Content-Length: 0x5\r\n", Failure.BAD_REQUEST),
                framingRefused("empty Content-Length", "Content-Length:\r\n", Failure.BAD_REQUEST),
                framingRefused("Content-Length of 19 digits", "Content-Length: 1234567890123456789\r\n", Failure.BAD_REQUEST),
                framingRefused("Content-Length with Transfer-Encoding (6.1)",
                        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", Failure.BAD_REQUEST),
                framingRefused("Transfer-Encoding not ending in chunked", "Transfer-Encoding: chunked, gzip\r\n",
                        Failure.BAD_REQUEST),
                framingRefused("chunked twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                        Failure.BAD_REQUEST),
                framingRefused("an unknown coding only", "Transfer-Encoding: gzip\r\n", Failure.BAD_REQUEST),
                framingRefused("Content-Length over max-request-body", "Content-Length: 1001\r\n",
                        Failure.PAYLOAD_TOO_LARGE));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("requestFraming")
    void requestFraming(String rule, String fields, String expected) throws ProxyException {
        HttpHead h = new HeadParser(true, 4096, 1024).parse(buf("POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n"));
        String got;
        try {
            BodyFraming f = BodyFraming.ofRequest(h, 1000);
            got = f.framing() + " " + f.length();
        } catch (ProxyException e) {
            got = e.failure.toString();
        }
        assertEquals(expected, got);
    }

    @org.junit.jupiter.api.Test
    void transferEncodingOnHttp10_isRefused() throws ProxyException {
        HttpHead h = new HeadParser(true, 4096, 1024).parse(buf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assertEquals(Failure.BAD_REQUEST, assertThrows(ProxyException.class, () -> BodyFraming.ofRequest(h, 0)).failure);
    }

    static Stream<Arguments> responseFraming() {
        return Stream.of(
                Arguments.of("Content-Length", "GET", "200", "Content-Length: 7\r\n", "LENGTH 7"),
                Arguments.of("neither: read until close (6.3)", "GET", "200", "", "UNTIL_CLOSE 0"),
                Arguments.of("chunked", "GET", "200", "Transfer-Encoding: chunked\r\n", "CHUNKED 0"),
                Arguments.of("not ending in chunked: until close", "GET", "200", "Transfer-Encoding: gzip\r\n", "UNTIL_CLOSE 0"),
                Arguments.of("HEAD: no body whatever it says", "HEAD", "200", "Content-Length: 7\r\n", "NONE 0"),
                Arguments.of("204: no body", "GET", "204", "Content-Length: 7\r\n", "NONE 0"),
                Arguments.of("304: no body", "GET", "304", "Content-Length: 7\r\n", "NONE 0"),
                Arguments.of("1xx: no body", "GET", "103", "", "NONE 0"),
                Arguments.of("Content-Length with Transfer-Encoding", "GET", "200",
                        "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n", "BAD_GATEWAY"),
                Arguments.of("Content-Length values that differ", "GET", "200",
                        "Content-Length: 7\r\nContent-Length: 8\r\n", "BAD_GATEWAY"),
                Arguments.of("invalid Content-Length", "GET", "200", "Content-Length: 7a\r\n", "BAD_GATEWAY"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("responseFraming")
    void responseFraming(String rule, String method, String status, String fields, String expected) throws ProxyException {
        HttpHead h = new HeadParser(false, 4096, Integer.MAX_VALUE).parse(buf("HTTP/1.1 " + status + " X\r\n" + fields + "\r\n"));
        String got;
        try {
            BodyFraming f = BodyFraming.ofResponse(h, method);
            got = f.framing() + " " + f.length();
        } catch (ProxyException e) {
            got = e.failure.toString();
        }
        assertEquals(expected, got);
    }

    private static ByteBuf buf(String s) {
        return Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.ISO_8859_1));
    }
}
