package dev.sluice.admin;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.sluice.cache.CacheIndex;
import dev.sluice.cache.StoredResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The cache endpoints: {@code POST /cache/purge}, {@code GET /cache/entry}, {@code GET /cache/entries} and
 * {@code GET /cache/stats}. Each takes the parsed request and returns the JSON reply or throws {@link ApiError};
 * all run on the admin's event loop. Purges and listings by prefix scan the index's keys, which costs time on the
 * admin loop only: the data path never waits for them.
 */
final class CacheApi {
    private static final System.Logger LOG = System.getLogger(CacheApi.class.getName());
    /** Fields a purge request may have. */
    private static final Set<String> PURGE_FIELDS = Set.of("url", "prefix", "tag", "soft");
    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 1000;

    /** Duplicate keys in a request object are an error, not "the last one wins". */
    private static final JSON READER = JSON.std.with(JSON.Feature.FAIL_ON_DUPLICATE_MAP_KEYS)
            .without(JSON.Feature.USE_BIG_DECIMAL_FOR_FLOATS);

    /** Absent values (no ETag, no next page) are written as null, not left out. */
    private static final JSON WRITER = JSON.std.with(JSON.Feature.WRITE_NULL_PROPERTIES);

    private final CacheAdmin cache;
    private final AdminMetrics metrics;

    CacheApi(CacheAdmin cache, AdminMetrics metrics) {
        this.cache = cache;
        this.metrics = metrics;
    }

    // ---------------------------------------------------------------- POST /cache/purge

    /** What a purge affected. */
    record Purged(int entries, long bytes) {}

    Map<String, Object> purge(byte[] body) throws ApiError {
        Map<String, Object> req = object(body);
        for (String k : req.keySet()) {
            if (!PURGE_FIELDS.contains(k)) {
                throw ApiError.badRequest("unknown field '" + ApiError.quote(k) + "' (a purge takes one of url, prefix,"
                        + " tag, and optionally soft)");
            }
        }
        int given = (req.containsKey("url") ? 1 : 0) + (req.containsKey("prefix") ? 1 : 0) + (req.containsKey("tag") ? 1 : 0);
        if (given != 1) {
            throw ApiError.badRequest("a purge takes exactly one of url, prefix or tag");
        }
        Object softValue = req.getOrDefault("soft", Boolean.FALSE);
        if (!(softValue instanceof Boolean soft)) {
            throw ApiError.badRequest("soft must be true or false");
        }
        Purged p;
        String what;
        String kind = req.containsKey("url") ? "url" : req.containsKey("prefix") ? "prefix" : "tag";
        if (req.containsKey("url")) {
            String url = string(req, "url");
            p = purgeUrl(AdminUrl.parse(url), soft);
            what = "url " + ApiError.quote(url);
        } else if (req.containsKey("prefix")) {
            String prefix = string(req, "prefix");
            p = purgePrefix(AdminUrl.parse(prefix).keyPrefix(), soft);
            what = "prefix " + ApiError.quote(prefix);
        } else {
            String tag = string(req, "tag");
            if (tag.isEmpty() || tag.chars().anyMatch(c -> c <= 0x20 || c == ',' || c == 0x7f)) {
                throw ApiError.badRequest("a tag is one word: no spaces, commas or control characters");
            }
            if (cache.index().tagHeader() == null) {
                throw ApiError.badRequest("tags are off: cache.tag-header is \"\"");
            }
            p = purgeTag(tag, soft);
            what = "tag " + ApiError.quote(tag);
        }
        LOG.log(System.Logger.Level.INFO, "admin: {0}purge by {1}: {2} entries, {3} bytes", soft ? "soft " : "", what,
                p.entries(), p.bytes());
        metrics.purged(kind, soft, p.entries(), p.bytes());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("entries", p.entries());
        out.put("bytes", p.bytes());
        return out;
    }

    /*
     * Order, for a fill that completes while a purge runs: the fills are marked first, the index purged second. A fill
     * checks its mark before it publishes and again after; so either it sees the mark, or its entry is in the index
     * before the index is purged.
     */

    private Purged purgeUrl(AdminUrl url, boolean soft) throws ApiError {
        Set<String> keys = new LinkedHashSet<>();
        for (CacheAdmin.RouteKey rk : routeKeys(url)) {
            keys.add(rk.key());
        }
        cache.purgeFills(keys::contains, null, soft);
        return purgeKeys(keys, null, soft);
    }

    private Purged purgePrefix(String keyPrefix, boolean soft) {
        cache.purgeFills(k -> k.startsWith(keyPrefix), null, soft);
        return purgeKeys(cache.index().keysStartingWith(keyPrefix), null, soft);
    }

    private Purged purgeTag(String tag, boolean soft) {
        cache.purgeFills(k -> true, tag, soft);
        return purgeKeys(cache.index().taggedKeys(tag), tag, soft);
    }

    /** Removes (or marks stale) the variants of {@code keys}, those tagged {@code tag} only when it is not null. */
    private Purged purgeKeys(Iterable<String> keys, String tag, boolean soft) {
        CacheIndex index = cache.index();
        int entries = 0;
        long bytes = 0;
        for (String key : keys) {
            if (tag == null && !soft) {
                CacheIndex.Removed r = index.invalidate(key);
                entries += r.entries();
                bytes += r.bytes();
                continue;
            }
            for (StoredResponse v : index.variants(key)) {
                if (tag != null && !index.tagsOf(v).contains(tag)) {
                    continue;
                }
                boolean done = soft ? index.replace(v, v.stale()) : index.remove(v);
                if (done) {
                    entries++;
                    bytes += v.weight();
                }
            }
        }
        return new Purged(entries, bytes);
    }

    // ---------------------------------------------------------------- GET /cache/entry?url=

    Map<String, Object> entry(String urlParam) throws ApiError {
        AdminUrl url = AdminUrl.parse(urlParam);
        List<Map<String, Object>> keys = new ArrayList<>();
        long now = cache.nowSeconds();
        for (CacheAdmin.RouteKey rk : routeKeys(url)) {
            List<StoredResponse> variants = cache.index().variants(rk.key());
            if (variants.isEmpty()) {
                continue;
            }
            List<Map<String, Object>> vs = new ArrayList<>();
            for (StoredResponse v : variants) {
                vs.add(variant(v, now));
            }
            Map<String, Object> k = new LinkedHashMap<>();
            k.put("route", rk.route());
            k.put("key", rk.key());
            k.put("variants", vs);
            keys.add(k);
        }
        if (keys.isEmpty()) {
            throw ApiError.notFound("not in the cache: " + ApiError.quote(urlParam));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("url", urlParam);
        out.put("keys", keys);
        return out;
    }

    private Map<String, Object> variant(StoredResponse v, long now) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vary", v.varyNames());
        m.put("secondary", v.secondary());
        m.put("status", v.status());
        m.put("size", v.length());
        m.put("weight", v.weight());
        m.put("age", v.freshness().age(now));
        m.put("ttl", v.freshness().ttl(now));
        m.put("fresh", v.freshness().fresh(now));
        m.put("lifetime", v.freshness().lifetime());
        m.put("freshness_source", v.freshness().source().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        m.put("hits", v.hits().get());
        m.put("etag", v.field("ETag"));
        m.put("last_modified", v.field("Last-Modified"));
        m.put("tags", cache.index().tagsOf(v));
        m.put("store", cache.storeOf(v));
        m.put("send", cache.send());
        List<List<String>> headers = new ArrayList<>();
        for (int i = 0; i < v.names().size(); i++) {
            headers.add(List.of(v.names().get(i), v.values().get(i)));
        }
        m.put("headers", headers);
        return m;
    }

    // ---------------------------------------------------------------- GET /cache/entries?prefix=&limit=&after=

    Map<String, Object> entries(String prefixParam, String limitParam, String afterParam) throws ApiError {
        String prefix = prefixParam == null || prefixParam.isEmpty() ? "" : AdminUrl.parse(prefixParam).keyPrefix();
        int limit = DEFAULT_LIMIT;
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                throw ApiError.badRequest("limit must be 1.." + MAX_LIMIT);
            }
        }
        String after = afterParam == null ? "" : afterParam;
        List<String> page = cache.index().page(prefix, after, limit);
        long now = cache.nowSeconds();
        List<Map<String, Object>> list = new ArrayList<>();
        for (String key : page) {
            List<StoredResponse> vs = cache.index().variants(key);
            if (vs.isEmpty()) {
                continue; // removed since the scan
            }
            long bytes = 0;
            long hits = 0;
            long ttl = Long.MIN_VALUE;
            for (StoredResponse v : vs) {
                bytes += v.weight();
                hits += v.hits().get();
                ttl = Math.max(ttl, v.freshness().ttl(now));
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("key", key);
            m.put("variants", vs.size());
            m.put("status", vs.get(0).status());
            m.put("bytes", bytes);
            m.put("ttl", ttl);
            m.put("hits", hits);
            list.add(m);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("entries", list);
        // the next page starts after this one's last key; null once a page came back short (no more keys)
        out.put("next", page.size() == limit ? page.get(page.size() - 1) : null);
        return out;
    }

    // ---------------------------------------------------------------- GET /cache/stats

    Map<String, Object> stats() {
        CacheIndex index = cache.index();
        Map<String, Long> lookups = cache.lookups();
        long total = 0;
        for (long n : lookups.values()) {
            total += n;
        }
        long hits = lookups.getOrDefault("hit", 0L);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("entries", index.keys());
        out.put("bytes", cache.usedBytes());
        out.put("heads_bytes", index.headBytes());
        out.put("budget", cache.budget());
        out.put("lookups", lookups);
        out.put("hit_ratio", total == 0 ? 0.0 : Math.round(hits * 10000.0 / total) / 10000.0);
        out.put("evictions", index.evictions());
        out.put("evicted_bytes", index.evictedBytes());
        out.put("fills_in_progress", cache.fillsInProgress());
        out.put("tag_header", index.tagHeader());
        out.put("send", cache.send());
        return out;
    }

    // ---------------------------------------------------------------- helpers

    private List<CacheAdmin.RouteKey> routeKeys(AdminUrl url) throws ApiError {
        try {
            return cache.keysOf(url.host(), url.target());
        } catch (CacheAdmin.NoRoute e) {
            throw ApiError.notFound(e.getMessage());
        }
    }

    /** The request body as a JSON object; 400 when it is not one. */
    static Map<String, Object> object(byte[] body) throws ApiError {
        Object parsed;
        try {
            parsed = READER.anyFrom(new String(body, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            int nl = why.indexOf('\n');
            throw ApiError.badRequest("malformed JSON: " + (nl > 0 ? why.substring(0, nl) : why));
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw ApiError.badRequest("the body must be a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) map;
        return m;
    }

    private static String string(Map<String, Object> req, String field) throws ApiError {
        if (!(req.get(field) instanceof String s)) {
            throw ApiError.badRequest(field + " must be a string");
        }
        return s;
    }

    static String json(Object value) {
        try {
            return WRITER.asString(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON", e); // maps of strings and numbers always can
        }
    }
}
