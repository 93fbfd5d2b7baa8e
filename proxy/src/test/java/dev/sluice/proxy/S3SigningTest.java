package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The target a signed request is sent with: S3's canonical form, the same for every way a client may write the same
 * object name (a server decodes and re-encodes it to verify the signature). End to end against S3Proxy in
 * {@link WarmS3Test}.
 */
class S3SigningTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "/b/key.bin                    | /b/key.bin",
        "/b/a-b_c.d~e                  | /b/a-b_c.d~e",
        // reserved and other bytes: encoded once, uppercase hex
        "/b/a b                        | /b/a%20b",
        "/b/a+b(1)!*',;:@$=            | /b/a%2Bb%281%29%21%2A%27%2C%3B%3A%40%24%3D",
        // escapes: kept, uppercased; of unreserved bytes decoded; %2F stays a byte of the key, not a slash
        "/b/a%2bb%2Fc                  | /b/a%2Bb%2Fc",
        "/b/%41%7E%2d                  | /b/A~-",
        "/b/%C3%BCn                    | /b/%C3%BCn",
        "/b/100%25                     | /b/100%25",
        // S3 keys keep empty segments and dots
        "/b//x/../y/.                  | /b//x/../y/.",
        // query: parameters kept in order, '&' and the first '=' kept, empty parameters dropped
        "/b?list-type=2&prefix=a/1     | /b?list-type=2&prefix=a%2F1",
        "/b?acl                        | /b?acl",
        "/b?a=1&&b=&c=x=y&             | /b?a=1&b=&c=x%3Dy",
        "/b?                           | /b",
        "/b?p=a+b%20c                  | /b?p=a%2Bb%20c",
        "/b/k?x-id=GetObject&v=%7e     | /b/k?x-id=GetObject&v=~",
    })
    void canonicalTarget(String target, String canonical) {
        assertEquals(canonical, S3Signing.canonicalTarget(target));
        assertEquals(canonical, S3Signing.canonicalTarget(canonical), "the canonical form is its own");
    }

    @ParameterizedTest
    @ValueSource(strings = {"*", "b/key", "/b/%", "/b/%4", "/b/%zz", "/b?a=%g1", "/b/\u0100"})
    void targetsThatCannotBeSigned(String target) {
        assertThrows(IllegalArgumentException.class, () -> S3Signing.canonicalTarget(target));
    }
}
