package dev.sluice.admin;

import dev.sluice.conf.SluiceConfig.S3Credentials;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/**
 * AWS Signature Version 4 for S3-compatible servers, computed by the AWS SDK's signer: the fields a request must
 * carry. Used by warm jobs' listings and by the proxy for an upstream group's signed methods.
 *
 * <p>The payload is never hashed here: a request without a body signs the empty payload's hash, one with a body
 * signs {@link #UNSIGNED_PAYLOAD} (the proxy streams bodies and cannot hash them before sending the head). The path
 * is signed as given ({@code encodedPath}, S3 encodes once and does not normalise), so the caller sends exactly the
 * path it signed.
 */
public final class S3Signature {
    /** SHA-256 of nothing: the payload hash of a request without a body. */
    public static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /** The payload hash S3 accepts for a body that is not hashed. */
    public static final String UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
    /** Stateless and thread-safe. */
    private static final AwsV4HttpSigner SIGNER = AwsV4HttpSigner.create();

    private S3Signature() {}

    /**
     * A request to sign: {@code encodedPath} as sent, query parameters and fields as name/value pairs (query names
     * and values decoded: the signer encodes them), all of the fields signed.
     */
    public record Request(String method, String host, int port, String encodedPath, List<String[]> query,
            List<String[]> fields) {}

    /**
     * The signed request's fields: Host, X-Amz-Date, x-amz-content-sha256 ({@code payloadHash}), Authorization and
     * the request's own fields.
     *
     * @throws IllegalArgumentException for a method the signer does not know
     */
    public static Map<String, List<String>> sign(Request r, String payloadHash, S3Credentials c, Clock clock) {
        SdkHttpRequest.Builder b = SdkHttpRequest.builder().method(SdkHttpMethod.fromValue(r.method()))
                .protocol("http").host(r.host()).port(r.port()).encodedPath(r.encodedPath());
        r.query().forEach(p -> b.appendRawQueryParameter(p[0], p[1]));
        r.fields().forEach(f -> b.appendHeader(f[0], f[1]));
        return sign(b.build(), payloadHash, c, clock);
    }

    /** {@link #sign(Request, String, S3Credentials, Clock)} of an SDK request. */
    static Map<String, List<String>> sign(SdkHttpRequest request, String payloadHash, S3Credentials c, Clock clock) {
        SdkHttpRequest req = request.toBuilder().putHeader("x-amz-content-sha256", payloadHash).build();
        return SIGNER.sign(r -> r
                .identity(AwsCredentialsIdentity.create(c.accessKey(), c.secretKey()))
                .request(req)
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
                .putProperty(AwsV4HttpSigner.REGION_NAME, c.region())
                .putProperty(AwsV4HttpSigner.SIGNING_CLOCK, clock)
                .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false) // S3 encodes the path once
                .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false) // and keeps "//" and ".." in keys
                .putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, !UNSIGNED_PAYLOAD.equals(payloadHash)))
                .request().headers();
    }
}
