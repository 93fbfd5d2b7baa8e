package dev.sluice.admin;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.sluice.conf.SluiceConfig.S3Credentials;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;

/**
 * Warm jobs over an S3 prefix: {@code {"route": R, "bucket": B, "prefix": P, ...options}}. The keys are listed
 * with ListObjectsV2 ({@code GET /B?list-type=2&prefix=P}, path-style, continuation tokens followed) from the
 * servers of route R's upstream group, in order until one answers, signed with AWS SigV4 (the SDK's signer) when the
 * group has an {@code s3} section. Each object K is then warmed as the path {@code /B/K} (percent-encoded) through
 * route R, which must serve that path (its path-prefix covers {@code /B/}); the Host sent is the job's {@code host}
 * or the route's. A listing answered with an error status or with something that is not a ListObjectsV2 result
 * fails the job with the reason.
 */
final class WarmS3 {
    static final Set<String> FIELDS = Set.of("route", "bucket", "prefix");
    /** Keys per listing page asked for (S3's most). */
    static final int PAGE = 1000;
    private static final JSON READER = JSON.std.with(JSON.Feature.FAIL_ON_DUPLICATE_MAP_KEYS);

    private WarmS3() {}

    /** Checks the request, creates the job and starts its lister; the job as created. */
    static WarmJob start(byte[] object, Map<String, String> query, WarmJobs jobs, CacheAdmin admin) throws ApiError {
        Map<String, Object> req;
        try {
            req = READER.mapFrom(object);
        } catch (IOException e) {
            throw ApiError.badRequest("malformed JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        Map<String, String> options = new LinkedHashMap<>(query);
        for (var e : req.entrySet()) {
            if (FIELDS.contains(e.getKey())) {
                continue;
            }
            if (!WarmOptions.NAMES.contains(e.getKey())) {
                throw ApiError.badRequest("unknown field '" + ApiError.quote(e.getKey()) + "' (an S3 prefix takes"
                        + " route, bucket, prefix and the options concurrency, rate, max-bytes, revalidate, priority,"
                        + " host, name)");
            }
            if (e.getValue() instanceof Map || e.getValue() instanceof List || e.getValue() == null) {
                throw ApiError.badRequest(e.getKey() + " must be a string, number or boolean");
            }
            options.put(e.getKey(), String.valueOf(e.getValue()));
        }
        String route = string(req, "route", true);
        String bucket = string(req, "bucket", true);
        String prefix = string(req, "prefix", false);
        // AWS's rules are stricter (3 to 63); S3-compatible servers differ, and the server has the last word
        if (!bucket.matches("[a-z0-9][a-z0-9._-]{0,62}")) {
            throw ApiError.badRequest("bad bucket name '" + ApiError.quote(bucket) + "' (up to 63 of a-z 0-9 . _ -)");
        }
        if (prefix.length() > 1024 || prefix.chars().anyMatch(c -> c < 0x20)) {
            throw ApiError.badRequest("bad prefix: over 1024 characters, or control characters");
        }
        WarmOptions o = WarmOptions.of(options);
        CacheAdmin.S3Upstream up;
        try {
            up = admin.s3Upstream(route);
            CacheAdmin.WarmTarget t = admin.warmTarget(o.host(), "/" + bucket + "/");
            if (!t.route().equals(route)) {
                throw ApiError.badRequest("/" + bucket + "/ is served by route " + t.route() + ", not " + route
                        + ": the route's path-prefix must cover the bucket's path-style paths");
            }
        } catch (CacheAdmin.NoRoute e) {
            throw ApiError.badRequest(e.getMessage());
        }
        WarmJob job = jobs.create(o, "s3://" + bucket + "/" + prefix);
        job.start();
        Thread.ofVirtual().name("sluice-warm-" + job.id + "-s3").start(() -> list(job, up, bucket, prefix));
        return job;
    }

    private static String string(Map<String, Object> req, String name, boolean required) throws ApiError {
        Object v = req.get(name);
        if (v == null && !required) {
            return "";
        }
        if (!(v instanceof String s) || (required && s.isEmpty())) {
            throw ApiError.badRequest(name + (required ? " is required, a string" : " must be a string"));
        }
        return s;
    }

    private static void list(WarmJob job, CacheAdmin.S3Upstream up, String bucket, String prefix) {
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build()) {
            String token = null;
            do {
                Page page = page(http, up, bucket, prefix, token);
                for (String key : page.keys()) {
                    if (!job.offer("/" + bucket + "/" + encodePath(key))) {
                        return;
                    }
                }
                token = page.next();
            } while (token != null && job.accepting());
            job.listingComplete();
        } catch (IOException e) {
            job.listingFailed("listing s3://" + bucket + "/" + prefix + ": " + e.getMessage());
        } catch (InterruptedException e) {
            job.listingFailed("listing s3://" + bucket + "/" + prefix + ": interrupted");
        } catch (RuntimeException e) {
            job.listingFailed("listing s3://" + bucket + "/" + prefix + ": " + e);
        }
    }

    /** One page of a listing: its keys, and the token of the next page (null: the last). */
    record Page(List<String> keys, String next) {}

    private static Page page(HttpClient http, CacheAdmin.S3Upstream up, String bucket, String prefix, String token)
            throws IOException, InterruptedException {
        String query = "list-type=2&max-keys=" + PAGE + "&prefix=" + encode(prefix)
                + (token == null ? "" : "&continuation-token=" + encode(token));
        IOException last = null;
        for (InetSocketAddress server : up.servers()) {
            String authority = (server.getAddress() instanceof java.net.Inet6Address ? "[" + server.getHostString()
                    + "]" : server.getHostString()) + ":" + server.getPort();
            URI uri = URI.create("http://" + authority + "/" + bucket + "?" + query);
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).GET();
            if (up.credentials() != null) {
                sign(uri, up.credentials()).forEach((name, values) -> {
                    if (!name.equalsIgnoreCase("Host")) {
                        values.forEach(v -> b.header(name, v));
                    }
                });
            }
            HttpResponse<String> r;
            try {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (java.net.ConnectException e) {
                last = new IOException(authority + ": " + e);
                continue; // the next server of the group
            }
            if (r.statusCode() != 200) {
                throw new IOException("HTTP " + r.statusCode() + " from " + authority + errorOf(r.body()));
            }
            return parse(r.body());
        }
        throw last != null ? last : new IOException("the upstream group has no servers");
    }

    /** The signed request's fields: SigV4 over GET, the URI, Host and an empty payload's hash. */
    static Map<String, List<String>> sign(URI uri, S3Credentials c) {
        return S3Signature.sign(SdkHttpRequest.builder().method(SdkHttpMethod.GET).uri(uri).build(),
                S3Signature.EMPTY_SHA256, c, java.time.Clock.systemUTC());
    }

    /** ListBucketResult's keys and continuation; anything else is an IOException saying what came. */
    static Page parse(String xml) throws IOException {
        XMLInputFactory f = XMLInputFactory.newFactory();
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false); // no entities from outside, no entity expansion
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        List<String> keys = new ArrayList<>();
        String next = null;
        boolean truncated = false;
        try {
            XMLStreamReader x = f.createXMLStreamReader(new StringReader(xml));
            x.nextTag();
            if (!x.getLocalName().equals("ListBucketResult")) {
                throw new IOException("not a ListObjectsV2 result: <" + ApiError.quote(x.getLocalName()) + ">");
            }
            List<String> path = new ArrayList<>();
            while (x.hasNext()) {
                int e = x.next();
                if (e == XMLStreamReader.START_ELEMENT) {
                    path.add(x.getLocalName());
                    String where = String.join("/", path);
                    if (where.equals("Contents/Key")) {
                        keys.add(x.getElementText());
                        path.removeLast();
                    } else if (where.equals("NextContinuationToken")) {
                        next = x.getElementText();
                        path.removeLast();
                    } else if (where.equals("IsTruncated")) {
                        truncated = x.getElementText().strip().equals("true");
                        path.removeLast();
                    }
                } else if (e == XMLStreamReader.END_ELEMENT && !path.isEmpty()) {
                    path.removeLast();
                }
            }
        } catch (XMLStreamException e) {
            throw new IOException("not a ListObjectsV2 result: " + ApiError.quote(String.valueOf(e.getMessage())));
        }
        if (truncated && (next == null || next.isEmpty())) {
            throw new IOException("a truncated listing without a NextContinuationToken");
        }
        return new Page(keys, truncated ? next : null);
    }

    /** " (Code: message)" of an S3 error body, or "" when there is none to read. */
    private static String errorOf(String body) {
        String code = between(body, "<Code>", "</Code>");
        String message = between(body, "<Message>", "</Message>");
        return code == null ? "" : ": " + ApiError.quote(code) + (message == null ? "" : " " + ApiError.quote(message));
    }

    private static String between(String s, String open, String close) {
        int a = s.indexOf(open);
        int b = a < 0 ? -1 : s.indexOf(close, a);
        return b < 0 ? null : s.substring(a + open.length(), b);
    }

    /** RFC 3986 percent-encoding, unreserved characters kept (as SigV4 wants the query). */
    static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A").replace("%7E", "~");
    }

    /** An object key as a path: each segment encoded, the slashes kept. */
    static String encodePath(String key) {
        StringBuilder b = new StringBuilder();
        for (String seg : key.split("/", -1)) {
            if (!b.isEmpty() || key.startsWith("/")) {
                b.append('/');
            }
            b.append(encode(seg));
        }
        return b.toString();
    }
}
