package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sluice.conf.SluiceConfig.S3Credentials;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * Fuzz target for the signing of upstream requests ({@link S3Signing}), which rewrites a client's target. Input: the
 * target as ISO-8859-1 (a '/' put in front when it has none, as every target that reaches it is origin-form). What
 * holds for every input:
 * <ul>
 *   <li>a target is signed or refused with an IllegalArgumentException (a 502 naming the reason), nothing else
 *   escapes, also from the AWS SDK's signer;</li>
 *   <li>the canonical form holds only unreserved bytes, escapes with uppercase hex, '/' and (in the query) '?',
 *   '&amp;' and '=', and is its own canonical form;</li>
 *   <li>the head sent carries exactly that target, one Authorization and one Host.</li>
 * </ul>
 */
class S3SigningFuzzTest {
    private static final S3Credentials KEY = new S3Credentials("us-east-1", "AKIDFUZZ", "fuzz-secret",
            Set.of("GET"));

    @FuzzTest
    void sign(byte[] input) {
        String raw = new String(input, StandardCharsets.ISO_8859_1);
        String target = raw.startsWith("/") ? raw : "/" + raw;
        String canonical;
        try {
            canonical = S3Signing.canonicalTarget(target);
        } catch (IllegalArgumentException refused) {
            return;
        }
        assertTrue(canonical.matches("/[A-Za-z0-9._~%/-]*(\\?[A-Za-z0-9._~%&=-]*)?"), canonical);
        assertTrue(!canonical.matches(".*%([0-9A-F]?[a-f]|[a-f]).*"), () -> "lowercase hex: " + canonical);
        assertEquals(canonical, S3Signing.canonicalTarget(canonical));
        HttpHead h = new HttpHead();
        h.method = "GET";
        h.target = target;
        h.minorVersion = 1;
        h.add("Host", "bucket.s3.example:9000");
        h.add("x-amz-meta-n", "1");
        ByteBuf b;
        try {
            b = S3Signing.encode(h, null, false, KEY, UnpooledByteBufAllocator.DEFAULT);
        } catch (IllegalArgumentException refused) {
            return; // a query parameter that is not UTF-8
        }
        try {
            String head = b.toString(StandardCharsets.ISO_8859_1);
            assertTrue(head.startsWith("GET " + canonical + " HTTP/1.1\r\n"), head);
            assertEquals(1, head.split("\r\nAuthorization: AWS4-HMAC-SHA256 ", -1).length - 1, head);
            assertEquals(1, head.split("\r\nHost: ", -1).length - 1, head);
        } finally {
            b.release();
        }
    }
}
