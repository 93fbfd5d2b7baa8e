package dev.sluice.proxy;

import dev.sluice.admin.S3Signature;
import dev.sluice.conf.SluiceConfig.S3Credentials;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The request head of an upstream group's signed method (its {@code s3.signed-methods}): signed with AWS SigV4 by
 * the group's credentials, so a private bucket can be served to clients that hold no key.
 *
 * <p>What is signed is exactly what is sent. The target is sent in S3's canonical form: every byte but the
 * unreserved ones ({@code A-Z a-z 0-9 - . _ ~}) percent-encoded once with uppercase hex, {@code /} kept in the
 * path, {@code &} between query parameters and the first {@code =} of each kept, escapes of unreserved bytes
 * decoded, empty parameters dropped. Any server decodes and re-encodes that form to itself, so the signature
 * verifies whatever form the client sent; the object named does not change. The Host sent is the one signed (the
 * client's, as for unsigned requests: path-style or virtual-host style both work). The client's
 * {@code Authorization} and {@code x-amz-*} fields are replaced by the signed ones (its other {@code x-amz-*} fields
 * are kept and signed, as S3 requires); the rest of the head goes unsigned as forwarded. A body is sent as
 * {@code UNSIGNED-PAYLOAD}: it streams after the head and is not hashed.
 *
 * <p>A signature costs a few HMACs and the SDK's allocations; it is paid only on requests that go upstream.
 */
final class S3Signing {
    private S3Signing() {}

    /**
     * The signed head of {@code req} ({@code host}, if not null, as its Host: an HTTP/1.0 request without one).
     *
     * @throws IllegalArgumentException when the request cannot be signed (its target is not a path or has a bad
     *     escape, its method is not one the signer knows)
     */
    static ByteBuf encode(HttpHead req, String host, boolean hasBody, S3Credentials c, ByteBufAllocator alloc) {
        String target = canonicalTarget(req.target);
        int q = target.indexOf('?');
        List<String[]> query = new ArrayList<>();
        if (q >= 0) {
            for (String param : target.substring(q + 1).split("&")) {
                int eq = param.indexOf('=');
                query.add(new String[] {decode(eq < 0 ? param : param.substring(0, eq)),
                        eq < 0 ? "" : decode(param.substring(eq + 1))});
            }
        }
        List<String[]> amz = new ArrayList<>();
        for (int i = 0; i < req.names.size(); i++) {
            String name = req.names.get(i);
            if (amz(name) && !replaced(name)) {
                amz.add(new String[] {name, req.values.get(i)});
            }
        }
        String authority = host != null ? host : req.get("Host");
        if (authority == null || authority.isEmpty()) {
            throw new IllegalArgumentException("no Host to sign");
        }
        int colon = authority.lastIndexOf(':');
        boolean port = colon > authority.lastIndexOf(']');
        Map<String, List<String>> signed = S3Signature.sign(new S3Signature.Request(req.method,
                        port ? authority.substring(0, colon) : authority, port ? port(authority, colon) : 80,
                        q < 0 ? target : target.substring(0, q), query, amz),
                hasBody ? S3Signature.UNSIGNED_PAYLOAD : S3Signature.EMPTY_SHA256, c, Clock.systemUTC());
        return req.encodeRequest(alloc, target,
                name -> !name.equalsIgnoreCase("Host") && !name.equalsIgnoreCase("Authorization") && !amz(name),
                signed);
    }

    private static boolean amz(String name) {
        return name.regionMatches(true, 0, "x-amz-", 0, 6);
    }

    /** The fields the signature sets: the client's are dropped. */
    private static boolean replaced(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.equals("x-amz-date") || n.equals("x-amz-content-sha256") || n.equals("x-amz-security-token");
    }

    private static int port(String authority, int colon) {
        try {
            return Integer.parseInt(authority, colon + 1, authority.length(), 10);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a Host with a bad port: " + authority);
        }
    }

    /** {@code target} in S3's canonical form (see the class comment). */
    static String canonicalTarget(String target) {
        if (!target.startsWith("/")) {
            throw new IllegalArgumentException("not a path: " + target);
        }
        int q = target.indexOf('?');
        StringBuilder out = new StringBuilder(target.length() + 16);
        encode(target, 0, q < 0 ? target.length() : q, true, out);
        if (q < 0) {
            return out.toString();
        }
        char sep = '?';
        for (int start = q + 1; start <= target.length(); ) {
            int end = target.indexOf('&', start);
            end = end < 0 ? target.length() : end;
            if (end > start) {
                out.append(sep);
                sep = '&';
                int eq = target.indexOf('=', start);
                if (eq < 0 || eq > end) {
                    encode(target, start, end, false, out);
                } else {
                    encode(target, start, eq, false, out).append('=');
                    encode(target, eq + 1, end, false, out); // a second '=' is the value's: %3D
                }
            }
            start = end + 1;
        }
        return out.toString();
    }

    private static StringBuilder encode(String s, int from, int to, boolean path, StringBuilder out) {
        for (int i = from; i < to; i++) {
            char ch = s.charAt(i);
            if (path && ch == '/') {
                out.append('/');
                continue;
            }
            int v = ch;
            if (ch == '%') {
                int hi = i + 2 < to ? Character.digit(s.charAt(i + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(s.charAt(i + 2), 16) : -1;
                if (lo < 0) {
                    throw new IllegalArgumentException("a bad percent-escape in " + s);
                }
                v = hi * 16 + lo;
                i += 2;
            } else if (ch > 0xff) {
                throw new IllegalArgumentException("not a byte in " + s);
            }
            if (unreserved(v)) {
                out.append((char) v);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(v >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(v & 15, 16)));
            }
        }
        return out;
    }

    private static boolean unreserved(int c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                || c == '_' || c == '~';
    }

    /** A canonical query name or value decoded: its escapes' bytes as UTF-8 (the signer encodes it again). */
    private static String decode(String s) {
        byte[] bytes = new byte[s.length()];
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '%') {
                bytes[n++] = (byte) Integer.parseInt(s, i + 1, i + 3, 16);
                i += 2;
            } else {
                bytes[n++] = (byte) ch;
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes, 0, n)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("a query parameter that is not UTF-8: " + s);
        }
    }
}
