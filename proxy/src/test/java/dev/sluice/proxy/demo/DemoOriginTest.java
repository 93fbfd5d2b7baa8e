package dev.sluice.proxy.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What the demo and the README's tour rely on from the demo origin. */
class DemoOriginTest {
    private static DemoOrigin origin;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        origin = DemoOrigin.start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        origin.close();
    }

    private static HttpResponse<byte[]> get(String target) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + origin.port() + target)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    private static byte[] expected(String path, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = DemoOrigin.byteAt(path, i);
        }
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "'/objects/hello.bin?size=1m', /objects/hello.bin, 1048576",
        "'/objects/hello.bin?size=3', /objects/hello.bin, 3",
        "'/x', /x, 1024",
        "'/x?size=100&chunked=1', /x, 100",
        "'/odd?size=200001&chunked=1', /odd, 200001",
        "'/zero?size=0', /zero, 0",
    })
    void body_isThePathsBytes_ofTheAskedSize(String target, String path, int size) throws Exception {
        HttpResponse<byte[]> r = get(target);
        assertEquals(200, r.statusCode());
        assertArrayEquals(expected(path, size), r.body());
        assertEquals(target.contains("chunked=1"), r.headers().firstValue("transfer-encoding").isPresent(), target);
    }

    @Test
    void paths_haveDifferentBytes() {
        assertNotEquals(new String(expected("/a", 64)), new String(expected("/b", 64)));
    }

    @Test
    void cacheControlAndStatus_areAsAsked() throws Exception {
        HttpResponse<byte[]> r = get("/objects/a.bin?size=10&cc=public,max-age=3600&status=203");
        assertEquals(203, r.statusCode());
        assertEquals("public,max-age=3600", r.headers().firstValue("cache-control").orElseThrow());
        assertEquals("demo-origin", r.headers().firstValue("x-origin").orElseThrow());
    }

    @Test
    void hdr_addsResponseFields_andABadOneIs400() throws Exception {
        HttpResponse<byte[]> r = get("/objects/a.bin?size=10&hdr=Surrogate-Key:videos&hdr=X-A:%20b%20c");
        assertEquals(200, r.statusCode());
        assertEquals("videos", r.headers().firstValue("surrogate-key").orElseThrow());
        assertEquals("b c", r.headers().firstValue("x-a").orElseThrow());
        assertEquals(400, get("/objects/a.bin?hdr=Bad%20Name:v").statusCode());
        assertEquals(400, get("/objects/a.bin?hdr=X-A:a%0d%0aX-B:b").statusCode());
        assertEquals(400, get("/objects/a.bin?hdr=novalue").statusCode());
    }

    @Test
    void ifNoneMatch_onTheEtag_gives304() throws Exception {
        HttpResponse<byte[]> r = HTTP.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + origin.port() + "/e?etag=v1")).header("If-None-Match", "W/\"v1\"").build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(304, r.statusCode());
        assertEquals(0, r.body().length);
        assertEquals(200, get("/e?etag=v2").statusCode());
    }

    @Test
    void echo_returnsTheRequestHead() throws Exception {
        String body = new String(get("/echo?echo=1").body(), StandardCharsets.UTF_8);
        assertTrue(body.startsWith("GET /echo?echo=1 HTTP/1.1\r\n"), body);
        assertTrue(body.toLowerCase().contains("\r\nhost: 127.0.0.1:" + origin.port() + "\r\n"), body);
    }

    @Test
    void upload_isAnsweredWithItsLengthAndDigest() throws Exception {
        byte[] data = "ID=debian\nVERSION=13\n".repeat(5000).getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + origin.port() + "/up/file")).PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode());
        assertEquals(String.valueOf(data.length), r.headers().firstValue("x-received-bytes").orElseThrow());
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)),
                r.headers().firstValue("x-received-sha256").orElseThrow());
    }

    @Test
    void keepAlive_answersPipelinedRequestsInOrder_andHeadHasNoBody() throws Exception {
        try (Socket s = new Socket("127.0.0.1", origin.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("HEAD /h?size=5 HTTP/1.1\r\nHost: x\r\n\r\nGET /h?size=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String all = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            int second = all.indexOf("HTTP/1.1 200", 1);
            assertTrue(all.startsWith("HTTP/1.1 200") && second > 0, all);
            assertTrue(all.substring(0, second).endsWith("\r\n\r\n"), "HEAD carried a body: " + all);
            assertEquals(new String(expected("/h", 5), StandardCharsets.ISO_8859_1), all.substring(all.length() - 5));
        }
    }

    @ParameterizedTest
    @CsvSource({"1024, 1024", "64k, 65536", "1m, 1048576", "2G, 2147483648", "1t, 1099511627776"})
    void size_readsSuffixes(String text, long bytes) {
        assertEquals(bytes, DemoOrigin.size(text));
    }

    @Test
    void badSize_gives400() throws Exception {
        assertEquals(400, get("/x?size=lots").statusCode());
    }
}
