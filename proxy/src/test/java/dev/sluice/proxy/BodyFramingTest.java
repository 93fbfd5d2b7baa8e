package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sluice.proxy.BodyTransfer.Framing;
import org.junit.jupiter.api.Test;

/** The framing decided from a head on its own: what {@code HeadFuzzTest} found. */
class BodyFramingTest {
    private static HttpHead response(String... transferEncodings) {
        HttpHead h = new HttpHead();
        h.status = 200;
        h.reasonPhrase = "OK";
        h.minorVersion = 1;
        for (String te : transferEncodings) {
            h.add("Transfer-Encoding", te);
        }
        return h;
    }

    /**
     * Empty list elements are ignored (RFC 9110 5.6.1): a response whose Transfer-Encoding ends in chunked after them
     * is chunked, not read until close (which sent the chunk framing to the client as body bytes), and the codings
     * go on without them.
     */
    @Test
    void responseTransferEncoding_emptyElementsIgnored() throws ProxyException {
        BodyFraming f = BodyFraming.ofResponse(response("gzip, chunked,", " , "), "GET");
        assertEquals(Framing.CHUNKED, f.framing());
        assertEquals("gzip, chunked", f.transferEncoding());
        assertEquals(Framing.CHUNKED, BodyFraming.ofResponse(response(",chunked"), "GET").framing());
        // not ending in chunked, chunked twice, or no coding at all: until close, as before
        assertEquals(Framing.UNTIL_CLOSE, BodyFraming.ofResponse(response("chunked, gzip,"), "GET").framing());
        assertEquals(Framing.UNTIL_CLOSE, BodyFraming.ofResponse(response("chunked,", "chunked"), "GET").framing());
        assertEquals(Framing.UNTIL_CLOSE, BodyFraming.ofResponse(response(","), "GET").framing());
    }

    /** A request stays strict: a Transfer-Encoding that does not end in chunked as written is refused. */
    @Test
    void requestTransferEncoding_trailingEmptyElement_isRefused() {
        HttpHead req = new HttpHead();
        req.method = "POST";
        req.target = "/";
        req.minorVersion = 1;
        req.add("Host", "a");
        req.add("Transfer-Encoding", "chunked,");
        assertEquals(Failure.BAD_REQUEST, assertThrows(ProxyException.class, () -> BodyFraming.ofRequest(req, 0)).failure);
    }
}
