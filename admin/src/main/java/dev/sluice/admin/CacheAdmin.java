package dev.sluice.admin;

import dev.sluice.cache.CacheIndex;
import dev.sluice.cache.StoredResponse;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * What the cache API needs from the running proxy, which implements it (admin never depends on proxy): the index, how
 * a URL maps to routes and so to primary keys, and the fills in progress. Every method is called on the admin's own
 * event loop, never on a data-path loop, and must be thread-safe.
 */
public interface CacheAdmin {
    /** The process-wide index. */
    CacheIndex index();

    /** A route that may serve a URL, and the primary key the URL is stored under there (its key policy applied). */
    record RouteKey(String route, String key) {}

    /**
     * The routes of every http listener that may serve {@code target} on {@code host} and cache it, with its key for
     * each (distinct keys only: routes that differ only in a header condition share them). A route with a header
     * condition may serve the URL (a URL carries no header fields), so it counts, and the first route without one
     * ends the search, as it would end matching.
     *
     * @param host   the URL's authority, as a client would send it in Host
     * @param target origin-form: the path and query
     * @throws NoRoute when no route may serve the URL, or none of those that may caches
     */
    List<RouteKey> keysOf(String host, String target) throws NoRoute;

    /** No route serves the URL ({@link #keysOf}), or none that does caches. */
    final class NoRoute extends Exception {
        public NoRoute(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Marks the fills in progress whose key {@code keys} accepts (and, when {@code tag} is not null, whose response
     * turns out to carry that tag) so that when complete they are not published ({@code soft}: published already
     * stale). Returns how many fills were marked.
     */
    int purgeFills(Predicate<String> keys, String tag, boolean soft);

    /** Fills in progress now. */
    int fillsInProgress();

    /** cache.memory. */
    long budget();

    /** Bytes the cache holds now: bodies in the stores (draining ones too) plus heads and metadata. */
    long usedBytes();

    /** The event loop whose store holds {@code r}'s body, or -1 (no body). */
    int storeOf(StoredResponse r);

    /** cache.send, as configured (auto | write | send-zc | splice | sendfile). */
    String send();

    /** The clock (epoch seconds) freshness is judged by. */
    long nowSeconds();

    /** Cache lookups since start by result (hit, miss, stale, pass, coalesced), all routes together. */
    Map<String, Long> lookups();

    // ---------------------------------------------------------------- warm jobs

    /**
     * Where a warm fetch of a URL goes: the route that serves it, the Host to send, and the http listener serving
     * that route (its bound address, a wildcard address replaced by loopback).
     */
    record WarmTarget(String route, String host, java.net.InetSocketAddress listener) {}

    /**
     * The warm target of {@code target} on {@code host}. With {@code host} null (a path given without one), the Host
     * sent is the route's host when it names one host, else the listener's address as {@code host:port} (what
     * {@code curl http://LISTENER/path} sends).
     *
     * @throws NoRoute when no route serves the URL, or the one that would serve it does not cache
     */
    WarmTarget warmTarget(String host, String target) throws NoRoute;

    /** The value of {@code Sluice-Warm} that makes a request a warm request (a per-process secret). */
    String warmToken();

    /**
     * Client requests waiting for an upstream response head now, all loops together (warm requests not counted):
     * background warm jobs pause while it is above 0. Read racily, so it may be a moment out of date.
     */
    int clientsWaitingForUpstream();

    /** cache.warm. */
    dev.sluice.conf.SluiceConfig.WarmConfig warmConfig();

    /**
     * The route named {@code route} as an S3 upstream, for warm jobs over an S3 prefix: its upstream group's servers
     * (in order, a wildcard address replaced by loopback) and the group's s3 credentials (null: unsigned).
     */
    record S3Upstream(String route, List<java.net.InetSocketAddress> servers,
            dev.sluice.conf.SluiceConfig.S3Credentials credentials) {}

    /** @throws NoRoute when no http listener has a route of that name, or it does not cache */
    S3Upstream s3Upstream(String route) throws NoRoute;
}
