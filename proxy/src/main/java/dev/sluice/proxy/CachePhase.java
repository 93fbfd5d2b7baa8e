package dev.sluice.proxy;

import dev.sluice.cache.CacheControl;
import dev.sluice.cache.CacheIndex;
import dev.sluice.cache.CacheKey;
import dev.sluice.cache.CacheStatus;
import dev.sluice.cache.Freshness;
import dev.sluice.cache.Reuse;
import dev.sluice.cache.Storability;
import dev.sluice.cache.StoredResponse;
import dev.sluice.conf.SluiceConfig.RouteCache;
import dev.sluice.shm.Extent;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cache's part of one exchange on a caching route (RFC 9111): the lookup before anything goes upstream (a hit
 * is served, a miss may wait for another request's fill of the same key), and the decision on the response head
 * (store it while it passes, or pass it through), with the Cache-Status that says which. Runs on the exchange's loop.
 */
final class CachePhase {
    /** A route's cache settings, resolved once. */
    record Policy(CacheKey.QueryPolicy query, Storability.Policy storability, Set<Integer> defaultTtlStatuses) {
        static Policy of(RouteCache c) {
            CacheKey.QueryPolicy q = switch (c.query().mode()) {
                case ALL -> CacheKey.QueryPolicy.ALL;
                case NONE -> CacheKey.QueryPolicy.NONE;
                case ONLY -> new CacheKey.QueryPolicy.Only(c.query().names());
            };
            return new Policy(q, new Storability.Policy(c.storeSetCookie(), c.defaultTtl().toSeconds()),
                    Set.copyOf(c.defaultTtlStatuses()));
        }
    }

    /** What the lookup decided. */
    enum Next {
        /** Answered from cache (the exchange sends it). */
        SERVED,
        /** Waiting for another request's fill (the fill wakes the exchange). */
        WAITING,
        /** Go upstream. */
        FORWARD
    }

    private final Exchange ex;
    private final CacheContext cache;
    private final Policy policy;
    private final HttpHead req;
    private String primary;
    private CacheControl reqCc = CacheControl.NONE;
    /** Why the request goes forward, for Cache-Status. */
    private CacheStatus.Fwd fwd = CacheStatus.Fwd.URI_MISS;
    private String bypass = "";
    /** The fill this request leads (registered before going upstream), or waits for. */
    private Fill fill;
    private boolean leader;
    /** The Range and If-Range fields of a miss sent upstream without them (the whole object fetched), or null. */
    private String[] wholeForRange;
    /** Epoch seconds when the request went upstream (for the response's age). */
    private long requestTime;
    CacheMetrics.Lookup result = CacheMetrics.Lookup.PASS;

    CachePhase(Exchange ex, CacheContext cache, Policy policy) {
        this.ex = ex;
        this.cache = cache;
        this.policy = policy;
        this.req = ex.req;
    }

    Fill fill() {
        return fill;
    }

    // ---------------------------------------------------------------- lookup

    Next lookup(boolean hasBody) {
        boolean get = req.method.equals("GET");
        if (!(get || req.method.equals("HEAD")) || hasBody) {
            bypass = "method";
            return Next.FORWARD; // an unsafe method's response invalidates (responseHead)
        }
        if (req.count("If-Match") > 0 || req.count("If-Unmodified-Since") > 0) {
            bypass = "conditional"; // RFC 9111 4.3.2: not applicable to a cache, the origin's to evaluate
            return Next.FORWARD;
        }
        // If-None-Match and If-Modified-Since are answered from a response served from here (StoredAnswer), and
        // sent to the origin otherwise (below); Range likewise, and on a miss the whole object is fetched for it
        reqCc = CacheControl.of(req);
        primary = CacheKey.primary(req.get("Host"), req.target, policy.query());
        CacheIndex.Lookup found = cache.index.lookup(primary, req);
        long now = cache.nowSeconds();
        switch (found) {
            case CacheIndex.Lookup.Hit hit -> {
                StoredResponse r = hit.response();
                if (req.count("Authorization") > 0 && !(r.control().isPublic || r.control().mustRevalidate
                        || r.control().sMaxAge != CacheControl.ABSENT)) {
                    bypass = "authorization"; // RFC 9111 3.5: stored for other requests, not for this one
                    return Next.FORWARD;
                }
                Reuse.Verdict v = Reuse.verdict(r.freshness(), r.control(), req, reqCc, now);
                if (v != Reuse.Verdict.REVALIDATE && (r.body() == null || r.body().tryRetain())) {
                    result = CacheMetrics.Lookup.HIT;
                    r.hits().incrementAndGet();
                    long ttl = r.freshness().ttl(now);
                    ex.serveStored(r, r.body(), null, CacheStatus.hit(ttl, v == Reuse.Verdict.STALE_ALLOWED ? "stale" : null));
                    return Next.SERVED;
                }
                // fresh but not for this request (its no-cache, max-age, min-fresh): RFC 9211's fwd=request
                fwd = v != Reuse.Verdict.REVALIDATE ? CacheStatus.Fwd.URI_MISS
                        : r.freshness().fresh(now) ? CacheStatus.Fwd.REQUEST : CacheStatus.Fwd.STALE;
            }
            case CacheIndex.Lookup.VaryMiss vm -> fwd = CacheStatus.Fwd.VARY_MISS;
            case CacheIndex.Lookup.UriMiss um -> fwd = CacheStatus.Fwd.URI_MISS;
        }
        if (reqCc.onlyIfCached) {
            ex.reject(new ProxyException(Failure.GATEWAY_TIMEOUT, "only-if-cached and not in the cache"));
            return Next.SERVED;
        }
        if (StoredAnswer.conditional(req)) {
            bypass = "conditional"; // RFC 9111 4.3.2: no stored response to evaluate it against, the origin's to answer
            return Next.FORWARD;
        }
        result = fwd == CacheStatus.Fwd.STALE ? CacheMetrics.Lookup.STALE : CacheMetrics.Lookup.MISS;
        if (!get || cache.passing(primary)) {
            if (get) {
                result = CacheMetrics.Lookup.PASS;
                bypass = "hit-for-pass";
            }
            return Next.FORWARD;
        }
        Fill mine = new Fill(primary, cache, ex.client.loop);
        Fill other = cache.fills.putIfAbsent(primary, mine);
        if (other == null) {
            fill = mine;
            leader = true;
            wholeForRange = RangeMiss.strip(req);
            return Next.FORWARD;
        }
        fill = other;
        result = CacheMetrics.Lookup.COALESCED;
        return awaitFill();
    }

    /** Waits for the fill's head, or joins its body at once. */
    private Next awaitFill() {
        if (fill.state() == Fill.State.HEAD) {
            fill.await(ex);
            if (fill.state() == Fill.State.HEAD || !ex.armed().compareAndSet(true, false)) {
                return Next.WAITING;
            }
        }
        return joinFill() ? Next.SERVED : Next.FORWARD;
    }

    /**
     * The awaited fill moved on: serve from it when its response suits this request (true), or go upstream alone.
     */
    boolean joinFill() {
        StoredResponse r = fill.response();
        if (fill.state().hasBody() && r != null && r.secondary().equals(CacheKey.secondary(r.varyNames(), req))
                && Reuse.verdict(r.freshness(), r.control(), req, reqCc, cache.nowSeconds()) != Reuse.Verdict.REVALIDATE
                && fill.join()) {
            ex.serveStored(r, r.body(), fill.state() == Fill.State.DONE ? null : fill,
                    CacheStatus.collapsed(fwd, r.status(), r.freshness().ttl(cache.nowSeconds())));
            return true;
        }
        fill = null; // on our own, and not collapsed again
        result = CacheMetrics.Lookup.MISS;
        return false;
    }

    /** The request goes upstream now. */
    void forwarding() {
        requestTime = cache.nowSeconds();
    }

    /** The exchange ended: a fill this request leads that never got its head releases its waiters. */
    void ended(String why) {
        if (leader && fill != null) {
            fill.abandon(why.isEmpty() ? "the request that went upstream ended" : why);
        }
    }

    // ---------------------------------------------------------------- the response head

    /**
     * Decides on a response head, hop-by-hop fields already removed. Returns the response to store, its fill
     * registered and its extent allocated ({@link #fill()}, which the exchange then {@linkplain Fill#begin begins}),
     * or null to pass it through, with Cache-Status added to {@code h}.
     *
     * @param length the body's length, or -1 when it is not known from the head
     */
    StoredResponse responseHead(HttpHead h, long length) {
        RangeMiss.restore(req, wholeForRange);
        if (bypass.equals("method")) {
            invalidate(h);
        }
        boolean bypassed = !bypass.isEmpty() && !bypass.equals("hit-for-pass");
        CacheControl cc = bypassed ? null : CacheControl.of(h);
        Freshness f = bypassed ? null : freshness(h, cc, cache.nowSeconds());
        String why = bypassed ? bypass : storable(h, length, cc, f);
        if (why != null) {
            if (leader) {
                fill.pass();
                fill = null;
            }
            h.add("Cache-Status", bypass.isEmpty() || bypass.equals("hit-for-pass")
                    ? CacheStatus.forward(fwd, h.status, false, 0, why)
                    : CacheStatus.forward(CacheStatus.Fwd.BYPASS, h.status, false, 0, bypass));
            return null;
        }
        Extent body = null;
        if (length > 0) {
            body = cache.allocate(ex.client.loop.store, length);
            if (body == null) {
                cache.metrics.uncachedMemory.increment();
                return passThrough(h, "memory");
            }
        }
        List<String> names = new ArrayList<>(h.size());
        List<String> values = new ArrayList<>(h.size());
        for (int i = 0; i < h.size(); i++) {
            if (!h.names.get(i).equalsIgnoreCase("Age")) {
                names.add(h.names.get(i));
                values.add(h.values.get(i));
            }
        }
        List<String> vary = CacheKey.varyNames(h);
        return new StoredResponse(primary, CacheKey.secondary(vary, req), vary, h.status,
                h.reasonPhrase == null ? "" : h.reasonPhrase, names, values, f, cc, body, Math.max(0, length), new AtomicLong());
    }

    /** Cache-Status of a response being stored as it goes to the client. */
    String storingStatus(StoredResponse r) {
        return CacheStatus.forward(fwd, r.status(), true, r.freshness().ttl(cache.nowSeconds()), null);
    }

    /** Null when storable here and now, else why not (the Cache-Status detail). */
    private String storable(HttpHead h, long length, CacheControl cc, Freshness f) {
        Storability.Decision d = Storability.decide(req.method, req, reqCc, h.status, h, cc, f, policy.storability());
        if (!d.store()) {
            if (!requestMade(d.reason())) {
                cache.pass(primary); // the URL's responses are not storable: its misses stop waiting for each other
            }
            return d.reason();
        }
        if (length < 0 || length > cache.config.maxObjectSize() || length > ex.client.loop.store.capacity()) {
            cache.metrics.uncachedSize.increment();
            cache.pass(primary);
            return length < 0 ? "unknown-length" : "too-large";
        }
        if (!leader) {
            // hit-for-pass, or a request that could not join a fill: store only when nobody else is filling
            Fill mine = new Fill(primary, cache, ex.client.loop);
            if (cache.fills.putIfAbsent(primary, mine) != null) {
                return "fill-in-progress";
            }
            fill = mine;
            leader = true;
        }
        return null;
    }

    /** Reasons that come from this request, not the URL's responses: no reason to stop collapsing the URL's misses. */
    private static boolean requestMade(String reason) {
        return reason.equals("request-no-store") || reason.equals("authorization") || reason.equals("method");
    }

    private StoredResponse passThrough(HttpHead h, String why) {
        fill.pass();
        fill = null;
        h.add("Cache-Status", CacheStatus.forward(fwd, h.status, false, 0, why));
        return null;
    }

    private Freshness freshness(HttpHead h, CacheControl cc, long now) {
        boolean defaultApplies = Storability.hasValidator(h) || policy.defaultTtlStatuses().contains(h.status);
        return Freshness.of(h, cc, h.status, requestTime == 0 ? now : requestTime, now, 0,
                policy.storability().defaultTtl(), defaultApplies);
    }

    /** RFC 9111 4.4: a non-error response to an unsafe method invalidates its target and same-host locations. */
    private void invalidate(HttpHead h) {
        String host = req.get("Host");
        for (String key : Reuse.invalidated(req.method, h.status, host, req.target, h,
                t -> CacheKey.primary(host, t, policy.query()))) {
            cache.index.invalidate(key);
        }
    }
}
