package dev.sluice.admin;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads a warm list from a streamed body, key by key, into a job ({@link WarmJob#offer}, which blocks while the job's
 * queue is full: the body is read only as fast as keys are fetched). The format is told by the first byte that is
 * not white space: {@code [} a JSON array of strings; anything else one key per line (blank lines and lines starting
 * with {@code #} skipped), where a line in double quotes is a JSON string (JSON lines). A key is a URL
 * ({@code http://host/path}) or a path ({@code /path}). Lines and strings are limited to {@link #MAX_KEY} bytes.
 */
final class WarmList {
    static final int MAX_KEY = 8 * 1024;
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(MAX_KEY).maxNestingDepth(2).build())
            .disable(com.fasterxml.jackson.core.StreamReadFeature.AUTO_CLOSE_SOURCE) // the rest of the body is read after
            .build();

    /** A body that is not a list of keys: the job fails with this reason, and the request gets 400. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    private WarmList() {}

    /**
     * Offers every key of {@code body} (a JSON object, an S3 prefix, was told apart before) to {@code job} until the body ends or the job takes no more keys (then the
     * rest of the body is read and dropped, so the request can be answered).
     */
    static void read(InputStream body, WarmJob job) throws IOException, Malformed, InterruptedException {
        PushbackInputStream in = new PushbackInputStream(body, 1);
        int first;
        do {
            first = in.read();
        } while (first == ' ' || first == '\t' || first == '\r' || first == '\n');
        if (first < 0) {
            return;
        }
        in.unread(first);
        if (first == '[') {
            array(in, job);
        } else {
            lines(in, job);
        }
        in.transferTo(java.io.OutputStream.nullOutputStream());
    }

    private static void array(InputStream in, WarmJob job) throws IOException, Malformed, InterruptedException {
        try (JsonParser p = JSON.createParser(in)) {
            p.nextToken(); // [
            long n = 0;
            while (true) {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_ARRAY) {
                    break;
                }
                if (t != JsonToken.VALUE_STRING) {
                    throw new Malformed("element " + n + " of the array is " + (t == null ? "missing (the body ends"
                            + " before ])" : "not a string (" + t + ")"));
                }
                n++;
                if (!job.offer(p.getText())) {
                    return;
                }
            }
            if (p.nextToken() != null) {
                throw new Malformed("more after the array's end");
            }
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new Malformed("malformed JSON: " + e.getOriginalMessage() + " (at " + e.getLocation().offsetDescription() + ")");
        }
    }

    private static void lines(InputStream in, WarmJob job) throws IOException, Malformed, InterruptedException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        long n = 0;
        while (true) {
            int c = in.read();
            if (c < 0 || c == '\n') {
                n++;
                String s = line.toString(StandardCharsets.UTF_8).strip();
                line.reset();
                if (!s.isEmpty() && !s.startsWith("#")) {
                    if (s.startsWith("\"")) {
                        s = jsonString(s, n);
                    }
                    if (!job.offer(s)) {
                        return;
                    }
                }
                if (c < 0) {
                    return;
                }
                continue;
            }
            if (line.size() >= MAX_KEY) {
                throw new Malformed("line " + (n + 1) + " is over " + MAX_KEY + " bytes");
            }
            line.write(c);
        }
    }

    private static String jsonString(String s, long line) throws Malformed {
        try (JsonParser p = JSON.createParser(s)) {
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new Malformed("line " + line + " is not a JSON string");
            }
            String v = p.getText();
            if (p.nextToken() != null) {
                throw new Malformed("line " + line + ": more after the JSON string");
            }
            return v;
        } catch (IOException e) {
            throw new Malformed("line " + line + ": malformed JSON string: " + e.getMessage());
        }
    }
}
