package dev.sluice.proxy;

import dev.sluice.cache.StoredResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Validations that run after a stale response was already sent (RFC 5861 stale-while-revalidate): at most one per
 * key at a time, and at most {@link #MAX_IN_FLIGHT} in all.
 *
 * <p>A background validation is an ordinary request to the listener the stale response was served on, made by a
 * virtual thread: {@code GET} of the same target with the request's values of the fields the response varies on,
 * and {@code Cache-Control: no-cache}, which makes the cache validate the stored response with the origin. So it
 * takes the path a client's would (routing, one validation per key with the others collapsed onto it, a 304
 * refreshing the stored head, a new response stored in place of the old), and it shows in the access log and the
 * metrics like any request, with the user agent {@value #USER_AGENT}. It is a warm request ({@link
 * CacheContext#WARM_FIELD}): a response that is stored is answered with its head alone once stored; one that is not
 * is read and dropped.
 */
final class BackgroundRevalidation {
    private static final System.Logger LOG = System.getLogger(BackgroundRevalidation.class.getName());
    static final String USER_AGENT = "sluice-revalidate";
    /** Most background validations at once: beyond it, stale responses are still served, validated later. */
    static final int MAX_IN_FLIGHT = 256;
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final int readTimeoutMillis;
    private final String warmToken;
    private final LogLimiter failures = new LogLimiter(Duration.ofMinutes(1));

    /** @param timeout how long a validation may go without receiving a byte before it is given up */
    BackgroundRevalidation(Duration timeout, String warmToken) {
        this.warmToken = warmToken;
        this.readTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
    }

    /**
     * Starts validating {@code r} for requests like {@code req}, through {@code listener}; false when one is
     * already running for its key, or too many are.
     */
    boolean start(StoredResponse r, HttpHead req, SocketAddress listener) {
        if (!(listener instanceof InetSocketAddress address) || inFlight.size() >= MAX_IN_FLIGHT
                || !inFlight.add(r.primary())) {
            return false;
        }
        byte[] request = request(r, req, warmToken);
        Thread.ofVirtual().name("sluice-revalidate").start(() -> {
            try {
                fetch(address, request);
            } catch (IOException | RuntimeException e) {
                long more = failures.admit();
                if (more >= 0) {
                    LOG.log(System.Logger.Level.WARNING, "background revalidation of {0} failed: {1}{2}", r.primary(),
                            String.valueOf(e), LogLimiter.more(more));
                }
            } finally {
                inFlight.remove(r.primary());
            }
        });
        return true;
    }

    /** Keys being validated in the background now. */
    int inFlight() {
        return inFlight.size();
    }

    private static byte[] request(StoredResponse r, HttpHead req, String warmToken) {
        StringBuilder b = new StringBuilder(256).append("GET ").append(req.target).append(" HTTP/1.1\r\n");
        String host = req.get("Host");
        b.append("Host: ").append(host == null ? "" : host).append("\r\n");
        for (String name : r.varyNames()) {
            for (int i = 0; i < req.size(); i++) {
                if (req.names.get(i).equalsIgnoreCase(name)) {
                    b.append(req.names.get(i)).append(": ").append(req.values.get(i)).append("\r\n");
                }
            }
        }
        b.append("Cache-Control: no-cache\r\nUser-Agent: ").append(USER_AGENT).append("\r\nConnection: close\r\n");
        // a warm request: answered with the head once the response is stored, so no body crosses loopback
        b.append(CacheContext.WARM_FIELD).append(": ").append(warmToken).append("\r\n\r\n");
        // the parsed head's bytes came off the wire as ISO-8859-1 and go back the same way
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private void fetch(InetSocketAddress listener, byte[] request) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(listener, CONNECT_TIMEOUT_MILLIS);
            s.setSoTimeout(readTimeoutMillis);
            OutputStream out = s.getOutputStream();
            out.write(request);
            out.flush();
            InputStream in = s.getInputStream();
            byte[] sink = new byte[16 * 1024];
            while (in.read(sink) >= 0) {
                // the response went into the cache on its way here; Connection: close ends it
            }
        }
    }
}
