package dev.sluice.admin;

import dev.sluice.cache.CacheKey;

/**
 * A URL given to the cache API ({@code http://host[:port]/path?query}), split the way the proxy sees a request: the
 * authority is what a client sends in Host, the rest the origin-form target. Keys carry no scheme (every listener
 * is plain HTTP), so https:// is accepted and means the same. Refused with 400: another scheme, no host, user info,
 * a fragment, whitespace or control characters.
 */
record AdminUrl(String host, String target) {
    static AdminUrl parse(String url) throws ApiError {
        if (url == null || url.isEmpty()) {
            throw ApiError.badRequest("a URL is needed (http://host/path)");
        }
        int start;
        if (url.regionMatches(true, 0, "http://", 0, 7)) {
            start = 7;
        } else if (url.regionMatches(true, 0, "https://", 0, 8)) {
            start = 8;
        } else {
            throw ApiError.badRequest("not an http:// URL: '" + ApiError.quote(url) + "'");
        }
        for (int i = 0; i < url.length(); i++) {
            char c = url.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                throw ApiError.badRequest("bad URL: whitespace, control or non-ASCII character at " + i
                        + " (percent-encode it as a client would send it)");
            }
        }
        if (url.indexOf('#') >= 0) {
            throw ApiError.badRequest("bad URL: a fragment (#) is never sent to a server");
        }
        int end = start;
        while (end < url.length() && url.charAt(end) != '/' && url.charAt(end) != '?') {
            end++;
        }
        String host = url.substring(start, end);
        if (host.isEmpty() || host.indexOf('@') >= 0) {
            throw ApiError.badRequest("bad URL: no host, or user info in it: '" + ApiError.quote(url) + "'");
        }
        String target = end == url.length() ? "/" : url.charAt(end) == '?' ? "/" + url.substring(end) : url.substring(end);
        return new AdminUrl(host, target);
    }

    /** The path, without the query. */
    String path() {
        int q = target.indexOf('?');
        return q < 0 ? target : target.substring(0, q);
    }

    /** The start of the keys under this URL as a prefix (the query kept as written: keys starting with it). */
    String keyPrefix() {
        return CacheKey.primary(host, target, CacheKey.QueryPolicy.ALL);
    }
}
