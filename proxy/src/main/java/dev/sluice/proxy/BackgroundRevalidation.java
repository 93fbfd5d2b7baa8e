package dev.sluice.proxy;

import dev.sluice.admin.WarmFetch;
import dev.sluice.cache.StoredResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
                // the answer needs nothing done: the cache stored (or refreshed) the response on its way here
                WarmFetch.fetch(address, request, socket -> { }, readTimeoutMillis);
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

    /** The request: the same target and Host, the request's values of the fields the response varies on. */
    private static byte[] request(StoredResponse r, HttpHead req, String warmToken) {
        List<String[]> vary = new ArrayList<>();
        for (String name : r.varyNames()) {
            for (int i = 0; i < req.size(); i++) {
                if (req.names.get(i).equalsIgnoreCase(name)) {
                    vary.add(new String[] {req.names.get(i), req.values.get(i)});
                }
            }
        }
        String host = req.get("Host");
        return WarmFetch.request(host == null ? "" : host, req.target, warmToken, USER_AGENT, true, vary);
    }
}
