package dev.sluice.proxy;

import static dev.sluice.proxy.FuzzInput.show;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fuzz targets for chunked framing ({@link ChunkedScanner}) in both directions, driven as {@link BodyTransfer}
 * drives it: each read scanned, its verbatim prefix forwarded, the rebuilt trailer section forwarded at the end, a
 * chunk's data optionally moved without scanning (splice), or payload runs reported (de-chunking for HTTP/1.0).
 * Input: {@link FuzzInput} parameters, then the body bytes that follow a head. What holds for every input:
 * <ul>
 *   <li>nothing but {@link ProxyException} escapes;</li>
 *   <li>however the bytes are cut into reads (and whichever chunk data is spliced), the outcome (complete,
 *   refused with which reason, or incomplete), the bytes consumed, forwarded and de-chunked are the same;</li>
 *   <li>the body is complete exactly when an independent decoder written from RFC 9112 7.1 (with Sluice's limits)
 *   finds a complete, valid body, and then both end it at the same byte with the same payload, and what is
 *   forwarded is the body with the trailer fields named by {@link ChunkedScanner#droppedFromTrailers} removed
 *   (never a framing, routing or connection field);</li>
 *   <li>what is forwarded of a complete body is itself a complete body that forwards unchanged; what was forwarded
 *   before a refusal, or of a body still incomplete, is a prefix of the input and never a complete body;</li>
 *   <li>{@link BodyTransfer} itself, offered the same reads, writes exactly those bytes (nothing more after a
 *   refusal) and leaves the bytes after the body's end for the next message.</li>
 * </ul>
 */
class ChunkedFuzzTest {
    private static final ByteBufAllocator ALLOC = new UnpooledByteBufAllocator(false, true);
    /** Around the scanned range in its buffer: bytes that would end a body, should the scanner read outside it. */
    private static final byte[] FENCE = "\r\n0\r\n\r\n0\r\n\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    private static final String TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
    private static final String QDTEXT = "[\\t \\x21\\x23-\\x5B\\x5D-\\x7E\\x80-\\xFF]*+";
    /**
     * quoted-string as runs of qdtext between quoted-pairs, and possessive: java.util.regex recurses once per
     * iteration of a repeated group with an alternation, which overflowed the stack on a 4 KiB line of backslashes.
     */
    private static final String QUOTED = "\"" + QDTEXT + "(?:\\\\[\\t \\x21-\\x7E\\x80-\\xFF]" + QDTEXT + ")*+\"";
    /**
     * RFC 9112 7.1 and 7.1.1: {@code chunk-size [ chunk-ext ]}, chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS
     * ( token / quoted-string ) ] ). Sluice's limit: at most 15 hex digits.
     */
    private static final Pattern CHUNK_LINE = Pattern.compile("([0-9A-Fa-f]{1,15})(?:[ \\t]*;[ \\t]*" + TOKEN
            + "(?:[ \\t]*=[ \\t]*(?:" + TOKEN + "|" + QUOTED + "))?)*+");
    /** RFC 9110 5: field-name ":" OWS field-value OWS, with VCHAR, obs-text, SP and HTAB in the value. */
    private static final Pattern FIELD_LINE = Pattern.compile(TOKEN + ":[\\t\\x20-\\x7E\\x80-\\xFF]*");
    /** Sluice's limit on a chunk size line (without its CRLF). */
    private static final int MAX_LINE = 4096;
    /** RFC 9110 6.5.1: framing, routing and connection fields, which a trailer section must never carry on. */
    private static final Set<String> NEVER_IN_TRAILERS = Set.of("content-length", "transfer-encoding", "host",
            "connection", "keep-alive", "te", "trailer", "upgrade");

    /** Parameters: see {@link #check}. */
    @FuzzTest
    void requestBody(byte[] input) {
        check(true, input);
    }

    /** Parameters: see {@link #check}; option bit 0 de-chunks (for an HTTP/1.0 client). */
    @FuzzTest
    void responseBody(byte[] input) {
        check(false, input);
    }

    /** What one drive of a scanner over the body gave. */
    record Run(Failure failure, String reason, boolean done, long consumed, byte[] forwarded, byte[] payload,
            long payloadBytes) {
    }

    /**
     * Parameters: 0 options (bit 0: de-chunk, responses only), 1 which reads start by splicing the chunk data due
     * (bit i for read i), 2 where the scanned range starts in its buffer (0-15), 3-8 the lengths of the first reads.
     */
    private static void check(boolean request, byte[] input) {
        FuzzInput in = new FuzzInput(input, 9);
        boolean dechunk = !request && (in.param(0) & 1) != 0;
        int spliceMask = in.param(1);
        int pad = in.param(2) & 15;
        byte[] body = in.message;
        List<byte[]> pieces = in.pieces(3, 6);
        Supplier<String> what = () -> (request ? "request " : "response ") + show(body) + (dechunk ? " de-chunked" : "")
                + " in reads " + pieces.stream().map(p -> p.length).toList() + " splicing " + spliceMask;

        Run whole = run(request, List.of(body), dechunk, 0, 0, what);
        Run reads = run(request, pieces, dechunk, spliceMask, pad, what);
        assertEquals(whole.failure, reads.failure, () -> "refusal differs: " + what.get());
        assertEquals(whole.reason, reads.reason, () -> "refusal differs: " + what.get());
        assertEquals(whole.done, reads.done, () -> "completion differs: " + what.get());
        if (whole.failure == null) {
            assertEquals(whole.consumed, reads.consumed, () -> "consumed differs: " + what.get());
            assertArrayEquals(whole.forwarded, reads.forwarded, () -> "forwarded differs: " + what.get());
            assertArrayEquals(whole.payload, reads.payload, () -> "payload differs: " + what.get());
            assertEquals(whole.payloadBytes, reads.payloadBytes, () -> "payload size differs: " + what.get());
        }
        assertTrue(whole.failure == null || whole.failure == (request ? Failure.BAD_REQUEST : Failure.BAD_GATEWAY), what);

        // Sluice's own forwarding (BodyTransfer, copying the same reads) writes exactly that, and nothing once it failed
        Run copied = run(request, pieces, dechunk, 0, pad, what);
        Transfer t = transfer(request, pieces, dechunk);
        assertEquals(copied.failure, t.failure, () -> "BodyTransfer's refusal differs: " + what.get());
        assertEquals(copied.done, t.done, () -> "BodyTransfer's completion differs: " + what.get());
        assertArrayEquals(dechunk ? copied.payload : copied.forwarded, t.written,
                () -> "BodyTransfer wrote otherwise: " + what.get());
        assertEquals(t.done && t.leftInLastRead > 0, t.trailingBytes,
                () -> "bytes after the body in its last read not noticed: " + what.get());
        if (t.failure == null) {
            assertEquals(whole.done ? body.length - whole.consumed : 0, t.leftOver,
                    () -> "bytes after the body not left for the next message: " + what.get());
        }

        Decoded decoded = decode(body);
        assertEquals(decoded != null, whole.done, () -> (decoded != null ? "a complete body not accepted: "
                : "accepted what is no complete body: ") + what.get() + " (" + whole.reason + ")");
        for (Run r : List.of(whole, reads)) {
            if (!r.done) {
                // refused or incomplete: what went out is a prefix of the input and no complete body
                if (!dechunk) {
                    assertArrayEquals(Arrays.copyOf(body, r.forwarded.length), r.forwarded, () -> "forwarded is no prefix: " + what.get());
                    Run again = run(request, List.of(r.forwarded), false, 0, 0, what);
                    assertTrue(again.failure == null && !again.done,
                            () -> "forwarded before the end is complete or refused: " + what.get());
                }
                continue;
            }
            assertEquals(decoded.end, r.consumed, () -> "the body ends elsewhere: " + what.get());
            assertEquals(decoded.payload.length, r.payloadBytes, what);
            if (dechunk) {
                assertArrayEquals(decoded.payload, r.payload, () -> "de-chunked payload differs: " + what.get());
                assertEquals(0, r.forwarded.length, what);
                continue;
            }
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            expected.write(body, 0, decoded.trailerStart);
            for (byte[] line : decoded.trailerLines) {
                if (!ChunkedScanner.droppedFromTrailers(name(line))) {
                    expected.writeBytes(line);
                    expected.write('\r');
                    expected.write('\n');
                }
            }
            expected.write('\r');
            expected.write('\n');
            assertArrayEquals(expected.toByteArray(), r.forwarded, () -> "forwarded is not the body as kept: " + what.get());

            // what was forwarded is a complete body, forwarded unchanged by the next hop's Sluice
            Run again = run(request, List.of(r.forwarded), false, 0, 0, what);
            assertTrue(again.done, () -> "forwarded body incomplete (" + again.reason + "): " + what.get());
            assertEquals(r.forwarded.length, again.consumed, what);
            assertArrayEquals(r.forwarded, again.forwarded, what);
            Decoded out = decode(r.forwarded);
            assertNotNull(out, what);
            assertArrayEquals(decoded.payload, out.payload, what);
            for (byte[] line : out.trailerLines) {
                String name = name(line);
                assertFalse(NEVER_IN_TRAILERS.contains(name.toLowerCase(Locale.ROOT))
                        || name.regionMatches(true, 0, "Proxy-", 0, 6) || ChunkedScanner.droppedFromTrailers(name),
                        () -> "trailer field " + name + " forwarded: " + what.get());
            }
        }
    }

    /**
     * Drives a fresh scanner over the pieces as {@link BodyTransfer#offer} does, each piece's range placed at
     * {@code pad} in its own buffer between fences. A piece whose bit is set in {@code spliceMask} first moves the
     * chunk data due (if any) without scanning, as the splice path does.
     */
    static Run run(boolean request, List<byte[]> pieces, boolean dechunk, int spliceMask, int pad, Supplier<String> what) {
        ChunkedScanner s = new ChunkedScanner(request);
        ByteArrayOutputStream forwarded = new ByteArrayOutputStream();
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        int[] range = new int[2];
        ChunkedScanner.PayloadSink sink = !dechunk ? null : (buf, index, length) -> {
            assertTrue(length >= 0 && index >= range[0] && index + length <= range[1],
                    () -> "payload run outside the scanned range: " + what.get());
            byte[] b = new byte[length];
            buf.getBytes(index, b);
            payload.writeBytes(b);
        };
        long consumed = 0;
        for (int k = 0; k < pieces.size() && !s.done(); k++) {
            byte[] piece = pieces.get(k);
            int pos = 0;
            if (!dechunk && k < 8 && (spliceMask >> k & 1) != 0 && s.dataRemaining() > 0) {
                int n = (int) Math.min(s.dataRemaining(), piece.length);
                long before = s.payloadBytes();
                s.dataMoved(n);
                assertEquals(before + n, s.payloadBytes(), what);
                forwarded.write(piece, 0, n);
                consumed += n;
                pos = n;
                if (pos == piece.length) {
                    continue;
                }
            }
            int length = piece.length - pos;
            ByteBuf buf = ALLOC.heapBuffer(pad + length + FENCE.length);
            try {
                buf.writeBytes(FENCE, 0, pad).writeBytes(piece, pos, length).writeBytes(FENCE);
                range[0] = pad;
                range[1] = pad + length;
                int took;
                try {
                    took = s.scan(buf, pad, pad + length, sink);
                } catch (ProxyException e) {
                    return new Run(e.failure, e.reason(), false, consumed, forwarded.toByteArray(), payload.toByteArray(),
                            s.payloadBytes());
                }
                int verbatim = s.verbatim();
                assertTrue(took >= 0 && took <= length && (took == length || s.done()),
                        () -> "scan took " + took + " of " + length + ": " + what.get());
                assertTrue(verbatim >= 0 && verbatim <= took, what);
                assertEquals(0, buf.readerIndex(), () -> "the scanner moved the reader index: " + what.get());
                consumed += took;
                if (!dechunk) {
                    forwarded.write(piece, pos, verbatim);
                    byte[] trailers = s.rewrittenTrailers();
                    if (trailers != null) {
                        assertTrue(s.done(), what);
                        forwarded.writeBytes(trailers);
                    }
                }
            } finally {
                buf.release();
            }
        }
        assertTrue(s.done() || s.rewrittenTrailers() == null, what);
        return new Run(null, null, s.done(), consumed, forwarded.toByteArray(), payload.toByteArray(), s.payloadBytes());
    }

    /** What {@link BodyTransfer} did with the reads: written to the destination, its end, what it left unread. */
    record Transfer(Failure failure, boolean done, byte[] written, boolean trailingBytes, int leftOver, int leftInLastRead) {
    }

    /**
     * Offers the pieces, one read each, to a {@link BodyTransfer} (chunked, copying) between two embedded channels,
     * as a connection does, until it finishes; collects what it writes to the destination.
     */
    static Transfer transfer(boolean request, List<byte[]> pieces, boolean dechunk) {
        EmbeddedChannel src = new EmbeddedChannel();
        EmbeddedChannel dst = new EmbeddedChannel();
        Failure[] failure = new Failure[1];
        boolean[] done = new boolean[1];
        BodyTransfer.Owner owner = new BodyTransfer.Owner() {
            @Override
            public void bodyProgress(BodyTransfer t) {
            }

            @Override
            public void bodyDone(BodyTransfer t) {
                done[0] = true;
            }

            @Override
            public void bodyFailed(BodyTransfer t, ProxyException cause) {
                failure[0] = cause.failure;
            }
        };
        BodyTransfer t = new BodyTransfer(src, dst, BodyTransfer.Framing.CHUNKED, 0, request, dechunk, 0, null, owner);
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        int leftOver = 0;
        int leftInLastRead = 0;
        try {
            t.start(null, null);
            for (byte[] piece : pieces) {
                if (t.isFinished()) {
                    leftOver += piece.length; // not offered: the next message's (or an upstream's surplus)
                    continue;
                }
                ByteBuf read = ALLOC.heapBuffer(piece.length).writeBytes(piece);
                t.offer(read);
                leftOver += read.readableBytes();
                leftInLastRead = read.readableBytes();
                read.release();
            }
            for (Object o; (o = dst.readOutbound()) != null; ) {
                ByteBuf b = (ByteBuf) o;
                written.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(b));
                b.release();
            }
        } finally {
            src.finishAndReleaseAll();
            dst.finishAndReleaseAll();
        }
        return new Transfer(failure[0], done[0], written.toByteArray(), t.trailingBytes, leftOver, leftInLastRead);
    }

    /** A complete, valid chunked body as the independent decoder reads it. */
    record Decoded(int end, byte[] payload, int trailerStart, List<byte[]> trailerLines) {
    }

    /**
     * Reads {@code b} as a chunked body (RFC 9112 7.1) from its first byte: its end, payload and trailer section, or
     * null when it is no complete, valid body. Line ends are CRLF only, and a CR or LF inside a line is invalid.
     */
    static Decoded decode(byte[] b) {
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        int pos = 0;
        while (true) {
            int cr = lineEnd(b, pos);
            if (cr < 0 || cr - pos > MAX_LINE) {
                return null;
            }
            Matcher m = CHUNK_LINE.matcher(new String(b, pos, cr - pos, StandardCharsets.ISO_8859_1));
            if (!m.matches()) {
                return null;
            }
            long size = Long.parseLong(m.group(1), 16);
            pos = cr + 2;
            if (size == 0) {
                break;
            }
            if (b.length - pos < size + 2) {
                return null;
            }
            payload.write(b, pos, (int) size);
            pos += (int) size;
            if (b[pos] != '\r' || b[pos + 1] != '\n') {
                return null;
            }
            pos += 2;
        }
        int trailerStart = pos;
        List<byte[]> lines = new ArrayList<>();
        while (true) {
            int cr = lineEnd(b, pos);
            if (cr < 0) {
                return null;
            }
            if (cr == pos) {
                pos += 2;
                break;
            }
            if (!FIELD_LINE.matcher(new String(b, pos, cr - pos, StandardCharsets.ISO_8859_1)).matches()) {
                return null;
            }
            lines.add(Arrays.copyOfRange(b, pos, cr));
            pos = cr + 2;
        }
        // Sluice's limit on a trailer section, counted up to its last CR
        if (pos - 1 - trailerStart > ChunkedScanner.MAX_TRAILERS) {
            return null;
        }
        return new Decoded(pos, payload.toByteArray(), trailerStart, lines);
    }

    /** The index of the CR of the CRLF ending the line at {@code from}, or -1 (no CRLF, or a bare CR or LF first). */
    private static int lineEnd(byte[] b, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == '\n') {
                return -1;
            }
            if (b[i] == '\r') {
                return i + 1 < b.length && b[i + 1] == '\n' ? i : -1;
            }
        }
        return -1;
    }

    private static String name(byte[] line) {
        String s = new String(line, StandardCharsets.ISO_8859_1);
        return s.substring(0, s.indexOf(':'));
    }
}
