package dev.sluice.admin;

import java.util.Map;

/** Warm jobs over an S3 prefix (a JSON object body): not built yet, refused with 501. */
final class WarmS3 {
    private WarmS3() {}

    static WarmJob start(byte[] object, Map<String, String> query, WarmJobs jobs) throws ApiError {
        throw new ApiError(501, "warming an S3 prefix is not supported yet: give a list of URLs or paths");
    }
}
