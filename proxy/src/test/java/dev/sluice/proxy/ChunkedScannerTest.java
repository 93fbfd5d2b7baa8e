package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The chunked scanner on its own: what {@code ChunkedFuzzTest} found. */
class ChunkedScannerTest {
    private static ByteBuf buf(String s) {
        return Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** obs-text (0x80-0xff) is allowed in a trailer field's value and in a quoted extension value (RFC 9112 7.1). */
    @Test
    void obsText_inTrailerValueAndQuotedExtension_isAccepted() throws ProxyException {
        for (boolean request : new boolean[] {true, false}) {
            String body = "3;n=\"\u00e9\\\u00e8\"\r\nabc\r\n0\r\nX-Name: \u00e9t\u00e9\r\n\r\n";
            ChunkedScanner s = new ChunkedScanner(request);
            ByteBuf in = buf(body);
            assertEquals(body.length(), s.scan(in, 0, in.writerIndex(), null));
            assertTrue(s.done());
            assertEquals(body.length(), s.verbatim()); // nothing dropped: the section passes as it came
            assertNull(s.rewrittenTrailers());
            assertEquals(3, s.payloadBytes());
        }
        // controls stay refused there
        for (String bad : new String[] {"3;n=\"a\u0001\"\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\nX: a\u007f\r\n\r\n"}) {
            ByteBuf in = buf(bad);
            assertEquals(Failure.BAD_GATEWAY,
                    assertThrows(ProxyException.class, () -> new ChunkedScanner(false).scan(in, 0, in.writerIndex(), null)).failure);
        }
    }

    /** A dropped trailer field makes the section rebuilt; obs-text in a kept one goes through byte for byte. */
    @Test
    void obsText_inAKeptTrailer_survivesTheRebuild() throws ProxyException {
        String body = "0\r\nContent-Length: 5\r\nX-Name: \u00e9\u00ff\r\n\r\n";
        ChunkedScanner s = new ChunkedScanner(true);
        ByteBuf in = buf(body);
        s.scan(in, 0, in.writerIndex(), null);
        assertTrue(s.done());
        assertEquals(3, s.verbatim());
        assertArrayEquals("X-Name: \u00e9\u00ff\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), s.rewrittenTrailers());
    }
}
