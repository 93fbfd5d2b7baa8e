package dev.sluice.proxy;

import dev.sluice.cache.CacheControl;
import dev.sluice.cache.CacheIndex;
import dev.sluice.cache.CacheKey;
import dev.sluice.cache.CacheStatus;
import dev.sluice.cache.Fields;
import dev.sluice.cache.Freshness;
import dev.sluice.cache.Reuse;
import dev.sluice.cache.Revalidation;
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
    record Policy(CacheKey.QueryPolicy query, Storability.Policy storability, Set<Integer> defaultTtlStatuses,
            long heuristicMax, long staleWhileRevalidate, long staleIfError) {
        static Policy of(RouteCache c) {
            CacheKey.QueryPolicy q = switch (c.query().mode()) {
                case ALL -> CacheKey.QueryPolicy.ALL;
                case NONE -> CacheKey.QueryPolicy.NONE;
                case ONLY -> new CacheKey.QueryPolicy.Only(c.query().names());
            };
            return new Policy(q, new Storability.Policy(c.storeSetCookie(), c.defaultTtl().toSeconds()),
                    Set.copyOf(c.defaultTtlStatuses()), c.heuristicMax().toSeconds(),
                    c.staleWhileRevalidate().toSeconds(), c.staleIfError().toSeconds());
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

    /** A request with no fields: what a stored response's own freshness allows, whatever this request asks. */
    private static final Fields NO_FIELDS = new Fields() {
        @Override
        public String joined(String name) {
            return null;
        }

        @Override
        public int count(String name) {
            return 0;
        }
    };

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
    /**
     * The stored variant this GET found unusable as it stands (stale, or its or the request's no-cache): validated
     * with the origin when it has a validator, and the stand-in when the origin fails (stale-if-error).
     */
    private StoredResponse stale;
    /**
     * The client's If-None-Match and If-Modified-Since, held back while this request validates {@link #stale} with
     * the stored validators (null: none held back, or put back already).
     */
    private List<String[]> clientConditions;
    /** The client's conditions were held back: its own answer may be a 304, yet the whole object is stored. */
    private boolean heldConditions;
    /** The conditional fields this cache added to the request to validate {@link #stale} (empty: none). */
    private List<String> addedConditionals = List.of();
    /** Set when the whole object a Range miss asked for is not stored: the exchange asks again for the range. */
    private boolean rangeAgain;
    /** The stored response to answer with after the origin was asked ({@link #serveAnswer}), and its Cache-Status. */
    private StoredResponse answer;
    private String answerStatus;
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
                if (get && v == Reuse.Verdict.REVALIDATE && !ex.warm && staleWhileRevalidate(r, now)) {
                    return Next.SERVED;
                }
                // usable but for this request's directives (no-cache, max-age, min-fresh): RFC 9211's fwd=request
                fwd = v != Reuse.Verdict.REVALIDATE ? CacheStatus.Fwd.URI_MISS
                        : Reuse.verdict(r.freshness(), r.control(), NO_FIELDS, CacheControl.NONE, now)
                                != Reuse.Verdict.REVALIDATE ? CacheStatus.Fwd.REQUEST : CacheStatus.Fwd.STALE;
                if (v == Reuse.Verdict.REVALIDATE) {
                    stale = r; // a HEAD is validated too (its 304 is answered from the stored GET's head)
                }
            }
            case CacheIndex.Lookup.VaryMiss vm -> fwd = CacheStatus.Fwd.VARY_MISS;
            case CacheIndex.Lookup.UriMiss um -> fwd = CacheStatus.Fwd.URI_MISS;
        }
        if (reqCc.onlyIfCached) {
            ex.reject(new ProxyException(Failure.GATEWAY_TIMEOUT, "only-if-cached and not in the cache"));
            return Next.SERVED;
        }
        if (StoredAnswer.conditional(req)) {
            if (!get || stale == null || !Revalidation.validatable(stale)) {
                bypass = "conditional"; // RFC 9111 4.3.2: no stored response to evaluate it against, the origin's to answer
                return Next.FORWARD;
            }
            // 4.3.2: the stored response is validated with its own validators, and the client's conditions are then
            // evaluated against the response that results (the stored one refreshed, or a new one)
            clientConditions = takeClientConditions();
            heldConditions = true;
        }
        result = fwd == CacheStatus.Fwd.STALE ? CacheMetrics.Lookup.STALE : CacheMetrics.Lookup.MISS;
        if (!get || cache.passing(primary)) {
            if (get) {
                result = CacheMetrics.Lookup.PASS;
                bypass = "hit-for-pass";
            }
            restoreClientConditions();
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
        restoreClientConditions(); // not sent upstream by this request: the fill's response is judged by them
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
                    CacheStatus.collapsed(fwd, fill.fwdStatus(), r.freshness().ttl(cache.nowSeconds())));
            return true;
        }
        fill = null; // on our own, and not collapsed again
        result = CacheMetrics.Lookup.MISS;
        return false;
    }

    /**
     * The request goes upstream now: when it validates a stored response, with that response's validators as
     * conditional fields (RFC 9111 4.3.1), unless the client sent conditions of its own (its 304 is then its own).
     */
    void forwarding() {
        requestTime = cache.nowSeconds();
        if (stale != null && addedConditionals.isEmpty() && req.count("If-None-Match") == 0
                && req.count("If-Modified-Since") == 0 && req.count("If-Match") == 0
                && req.count("If-Unmodified-Since") == 0 && req.count("Range") == 0) {
            List<String> added = new ArrayList<>(2);
            for (String[] f : Revalidation.conditionalFields(stale)) {
                req.add(f[0], f[1]);
                added.add(f[0]);
            }
            addedConditionals = added;
        }
    }

    /** The exchange ended: a fill this request leads that never got its head releases its waiters. */
    void ended(String why) {
        if (leader && fill != null) {
            fill.abandon(why.isEmpty() ? "the request that went upstream ended" : why);
        }
    }

    // ---------------------------------------------------------------- validation and stale responses

    /** What became of a response head to a request that validated a stored response. */
    enum Validated {
        /** Not a validation's answer to act on: the response goes on as any other. */
        CONTINUE,
        /** Answered from the stored response (refreshed by a 304, or standing in for an error): the head is dropped. */
        SERVED,
        /** A 304 that does not select the stored response: ask again, without the conditions this cache added. */
        RETRY
    }

    /**
     * RFC 5861 3: a stale response the request accepts is sent at once while one validation of it runs in the
     * background (never two for a key). False when it does not apply here (the request goes upstream itself).
     */
    private boolean staleWhileRevalidate(StoredResponse r, long now) {
        if (!Reuse.staleWhileRevalidate(r.freshness(), r.control(), req, reqCc, now, policy.staleWhileRevalidate())
                || (r.body() != null && !r.body().tryRetain())) {
            return false;
        }
        result = CacheMetrics.Lookup.STALE;
        r.hits().incrementAndGet();
        if (cache.revalidator.start(r, req, ex.client.channel.localAddress())) {
            cache.metrics.revalidations[CacheMetrics.Revalidated.BACKGROUND.ordinal()].increment();
        }
        ex.serveStored(r, r.body(), null, CacheStatus.hit(r.freshness().ttl(now), "stale-while-revalidate"));
        return true;
    }

    /** True when the request went upstream with conditions this cache added to validate a stored response. */
    boolean validating() {
        return !addedConditionals.isEmpty();
    }

    /** This cache's conditional fields went upstream: the answer to the client is judged by the client's own. */
    private void dropAddedConditionals() {
        for (String name : addedConditionals) {
            req.remove(name);
        }
        addedConditionals = List.of();
        restoreClientConditions();
    }

    /** Removes the client's If-None-Match and If-Modified-Since lines; returns them as name/value pairs. */
    private List<String[]> takeClientConditions() {
        List<String[]> taken = new ArrayList<>(2);
        for (int i = 0; i < req.size(); i++) {
            String n = req.names.get(i);
            if (n.equalsIgnoreCase("If-None-Match") || n.equalsIgnoreCase("If-Modified-Since")) {
                taken.add(new String[] {n, req.values.get(i)});
            }
        }
        req.remove("If-None-Match");
        req.remove("If-Modified-Since");
        return taken;
    }

    /** Puts back what {@link #takeClientConditions} removed, once (the answer to the client is judged by them). */
    private void restoreClientConditions() {
        if (clientConditions != null) {
            for (String[] f : clientConditions) {
                req.add(f[0], f[1]);
            }
            clientConditions = null;
        }
    }

    /**
     * A response head to a request that validated {@link #stale}: a 304 that selects it (RFC 9111 4.3.4) refreshes
     * its head (3.2), to be answered from the stored body; an error it may stand in for (RFC 5861 4) is to be
     * answered with it; a 304 for another representation asks again unconditionally. On SERVED the exchange lets
     * the upstream connection go and then calls {@link #serveAnswer}.
     */
    Validated validated(HttpHead h) {
        if (stale == null) {
            return Validated.CONTINUE;
        }
        boolean validation = validating();
        dropAddedConditionals();
        long now = cache.nowSeconds();
        if (h.status == 304 && validation) {
            StoredResponse refreshed = Revalidation.selects(stale, h) ? refreshed(h, now) : null;
            if (refreshed == null || (refreshed.body() != null && !refreshed.body().tryRetain())) {
                // another representation, or the stored body left meanwhile: the 304 cannot be used for it
                cache.metrics.revalidations[CacheMetrics.Revalidated.MISMATCH.ordinal()].increment();
                stale = null; // asked again unconditionally: nothing left to validate or stand in
                return Validated.RETRY;
            }
            cache.metrics.revalidations[CacheMetrics.Revalidated.NOT_MODIFIED.ordinal()].increment();
            if (leader) {
                fill.refreshed(refreshed);
                fill = null;
                leader = false;
            }
            answer = refreshed;
            answerStatus = CacheStatus.fromStored(fwd, 304, refreshed.freshness().ttl(now), null);
            RangeMiss.restore(req, wholeForRange); // the client's range is answered from the stored body
            return Validated.SERVED;
        }
        if (Reuse.isError(h.status) && standIn(h.status)) {
            return Validated.SERVED;
        }
        if (validation) {
            cache.metrics.revalidations[CacheMetrics.Revalidated.MODIFIED.ordinal()].increment();
        }
        return Validated.CONTINUE;
    }

    /**
     * The origin failed (an error status, or no answer at all: {@code status} 0): true when the stale response is to
     * be sent in its place, as stale-if-error allows ({@link #serveAnswer} sends it).
     */
    boolean standIn(int status) {
        long now = cache.nowSeconds();
        if (stale == null || !Reuse.staleIfError(stale.freshness(), stale.control(), reqCc, now, policy.staleIfError())
                || (stale.body() != null && !stale.body().tryRetain())) {
            return false;
        }
        dropAddedConditionals();
        cache.metrics.revalidations[CacheMetrics.Revalidated.STALE_IF_ERROR.ordinal()].increment();
        if (leader) {
            fill.pass(); // the waiters ask on their own, and stand in for themselves if they must
            fill = null;
            leader = false;
        }
        stale.hits().incrementAndGet();
        RangeMiss.restore(req, wholeForRange);
        answer = stale;
        answerStatus = CacheStatus.fromStored(fwd, status, stale.freshness().ttl(now), "stale-if-error");
        return true;
    }

    /**
     * RFC 9111 5.2.2.2: a response under must-revalidate (or proxy-revalidate, or s-maxage, which implies it) that
     * could not be validated is not served stale, and the cache answers 504 rather than another error.
     */
    boolean unvalidatable() {
        return stale != null && (stale.control().mustRevalidate || stale.control().proxyRevalidate
                || stale.control().sMaxAge != CacheControl.ABSENT);
    }

    /** Sends the stored response {@link #validated} or {@link #standIn} chose (a reference on its body is held). */
    void serveAnswer() {
        StoredResponse r = answer;
        answer = null;
        ex.serveStored(r, r.body(), null, answerStatus);
    }

    /** {@link #stale} with its head updated from a 304 and its freshness recomputed; published in the index. */
    private StoredResponse refreshed(HttpHead h, long now) {
        Revalidation.Head head = Revalidation.updated(stale, h.names, h.values);
        // the 304's Age is part of the refreshed response's age (4.2.3), though never stored
        Fields withAge = new Fields() {
            @Override
            public String joined(String name) {
                return name.equalsIgnoreCase("Age") ? h.joined("Age") : head.joined(name);
            }

            @Override
            public int count(String name) {
                return name.equalsIgnoreCase("Age") ? h.count("Age") : head.count(name);
            }
        };
        CacheControl cc = CacheControl.of(head);
        boolean defaultApplies = Storability.hasValidator(head) || policy.defaultTtlStatuses().contains(stale.status());
        Freshness f = Freshness.of(withAge, cc, stale.status(), requestTime == 0 ? now : requestTime, now,
                policy.heuristicMax(), policy.storability().defaultTtl(), defaultApplies);
        StoredResponse updated = stale.withHead(head.names(), head.values(), f, cc);
        cache.index.replace(stale, updated); // when it left meanwhile, this request is still answered from its body
        return updated;
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
            if (askForRangeAgain(h, why)) {
                return null;
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
        if (wholeForRange != null || heldConditions) {
            fill.keepWhole(); // the whole object was asked for to be stored: not only the client's range or its 304
        }
        List<String> vary = CacheKey.varyNames(h);
        return new StoredResponse(primary, CacheKey.secondary(vary, req), vary, h.status,
                h.reasonPhrase == null ? "" : h.reasonPhrase, names, values, f, cc, body, Math.max(0, length), new AtomicLong());
    }

    /**
     * The whole object a Range miss asked for will not be stored ({@code why}): rather than pass it all on to a client
     * that wanted a range of it, the exchange drops it and asks again with the client's Range ({@link #rangeAgain}),
     * and the origin's answer goes through uncached (RFC 9110 14.2 would allow the whole 200, but a range of a large
     * object must not cost the whole object).
     */
    private boolean askForRangeAgain(HttpHead h, String why) {
        if (wholeForRange == null || h.status != 200) {
            return false;
        }
        wholeForRange = null; // RangeMiss.restore has put Range back already
        leader = false; // its fill was passed: the next answer leads nothing
        bypass = why; // the next answer is passed on, saying why the object is not stored
        rangeAgain = true;
        return true;
    }

    /** True once after {@link #responseHead} dropped the whole object a Range miss asked for: ask again for the range. */
    boolean rangeAgain() {
        boolean again = rangeAgain;
        rangeAgain = false;
        return again;
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
        if (askForRangeAgain(h, why)) {
            return null;
        }
        h.add("Cache-Status", CacheStatus.forward(fwd, h.status, false, 0, why));
        return null;
    }

    private Freshness freshness(HttpHead h, CacheControl cc, long now) {
        boolean defaultApplies = Storability.hasValidator(h) || policy.defaultTtlStatuses().contains(h.status);
        return Freshness.of(h, cc, h.status, requestTime == 0 ? now : requestTime, now, policy.heuristicMax(),
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
