package dev.sluice.proxy;

import dev.sluice.conf.SluiceConfig.AccessLogConfig;
import dev.sluice.conf.SluiceConfig.AccessLogFormat;
import java.io.BufferedWriter;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One line per request, written by a background thread so event loops never block on the log's
 * output. When the queue is full, lines are dropped and counted rather than stalling the data path.
 */
final class AccessLog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AccessLog.class.getName());
    private static final DateTimeFormatter COMBINED_TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

    /** What one request did; filled in by the exchange as it goes. */
    static final class Entry {
        long startMillis;
        String client = "-";
        String method = "-";
        String target = "-";
        String host = "";
        int minorVersion = 1;
        String route = "";
        String upstream = "";
        int status;
        long bytesIn;
        long bytesOut;
        double durationMillis;
        String reason = "";
        String mechanism = "";
        /** What the cache did for it (hit, miss, stale, pass, coalesced), "" on routes without a cache. */
        String cache = "";
        String userAgent = "";
        String referer = "";
    }

    private final boolean enabled;
    private final AccessLogFormat format;
    private final ArrayBlockingQueue<String> queue = new ArrayBlockingQueue<>(65536);
    private final AtomicLong dropped = new AtomicLong();
    private final Thread writer;
    private volatile boolean closed;
    private final OutputStream out;
    private final boolean ownsStream;

    AccessLog(AccessLogConfig config) throws IOException {
        this.enabled = config.enabled();
        this.format = config.format();
        switch (config.target()) {
            case "stdout" -> { out = System.out; ownsStream = false; }
            case "stderr" -> { out = System.err; ownsStream = false; }
            default -> { out = new FileOutputStream(config.target(), true); ownsStream = true; }
        }
        writer = Thread.ofPlatform().daemon().name("sluice-access-log").unstarted(this::drain);
        if (enabled) {
            writer.start();
        }
    }

    long dropped() {
        return dropped.get();
    }

    void log(Entry e) {
        if (!enabled) {
            return;
        }
        String line = format == AccessLogFormat.JSON ? json(e) : combined(e);
        if (!queue.offer(line)) {
            dropped.incrementAndGet();
        }
    }

    static String json(Entry e) {
        StringBuilder b = new StringBuilder(256);
        b.append("{\"time\":\"").append(Instant.ofEpochMilli(e.startMillis)).append('"');
        field(b, "client", e.client);
        field(b, "method", e.method);
        field(b, "target", e.target);
        field(b, "host", e.host);
        field(b, "route", e.route);
        field(b, "upstream", e.upstream);
        b.append(",\"status\":").append(e.status);
        b.append(",\"bytes_in\":").append(e.bytesIn);
        b.append(",\"bytes_out\":").append(e.bytesOut);
        b.append(",\"duration_ms\":").append(String.format(Locale.ROOT, "%.3f", e.durationMillis));
        field(b, "mechanism", e.mechanism);
        if (!e.cache.isEmpty()) {
            field(b, "cache", e.cache);
        }
        field(b, "reason", e.reason);
        return b.append('}').toString();
    }

    static String combined(Entry e) {
        // NCSA combined, plus route, upstream, duration and reason at the end
        return e.client + " - - [" + COMBINED_TIME.format(Instant.ofEpochMilli(e.startMillis)) + "] \""
                + e.method + ' ' + e.target + (e.minorVersion == 0 ? " HTTP/1.0" : " HTTP/1.1") + "\" " + e.status + ' '
                + e.bytesOut + " \"" + dash(e.referer) + "\" \"" + dash(e.userAgent) + "\" route=" + dash(e.route)
                + " upstream=" + dash(e.upstream) + String.format(Locale.ROOT, " duration_ms=%.3f", e.durationMillis)
                + " bytes_in=" + e.bytesIn + (e.cache.isEmpty() ? "" : " cache=" + e.cache) + (e.reason.isEmpty() ? "" : " reason=\"" + e.reason.replace('"', '\'') + '"');
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    private static void field(StringBuilder b, String name, String value) {
        b.append(",\"").append(name).append("\":\"");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    private void drain() {
        BufferedWriter w = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 1 << 16);
        try {
            while (!closed || !queue.isEmpty()) {
                String line = queue.poll(200, TimeUnit.MILLISECONDS);
                if (line == null) {
                    continue;
                }
                w.write(line);
                w.write('\n');
                while ((line = queue.poll()) != null) {
                    w.write(line);
                    w.write('\n');
                }
                w.flush();
            }
            w.flush();
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        } catch (IOException ioe) {
            LOG.log(System.Logger.Level.ERROR, "access log write failed, logging stops: " + ioe);
        }
    }

    @Override
    public void close() {
        closed = true;
        if (enabled) {
            try {
                writer.join(2000);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        if (ownsStream) {
            try {
                out.close();
            } catch (IOException ignored) {
                // closing at shutdown; nothing more to do
            }
        }
    }
}
