package dev.sluice.proxy;

/**
 * What Sluice checks of a request head before it routes it, beyond what {@link HeadParser} checked of its syntax:
 * the method, the target's form, Host, the body's framing (RFC 9112), and whether the client keeps the connection.
 *
 * @param path      the target's path without the query, for routing ("*" for {@code OPTIONS *})
 * @param framing   how the request body is delimited
 * @param keepAlive the client keeps the connection after this exchange (HTTP/1.1 without close, 1.0 with keep-alive)
 */
record RequestCheck(String path, BodyFraming framing, boolean keepAlive) {

    /**
     * Checks {@code req}, rewriting an absolute-form target to origin-form with its authority as Host (RFC 9112
     * 3.2.2), or refuses it.
     *
     * @param maxBody 413 above this many body bytes (0 = no limit)
     */
    static RequestCheck of(HttpHead req, long maxBody) throws ProxyException {
        switch (req.method) {
            case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH" -> { }
            default -> throw new ProxyException(Failure.NOT_IMPLEMENTED, "method " + req.method + " not implemented");
        }
        int hosts = req.count("Host");
        if (hosts > 1) {
            throw new ProxyException(Failure.BAD_REQUEST, "more than one Host header");
        }
        String path;
        String target = req.target;
        if (target.startsWith("/")) {
            path = target;
        } else if (target.regionMatches(true, 0, "http://", 0, 7) || target.regionMatches(true, 0, "https://", 0, 8)) {
            // absolute-form: its authority replaces Host (RFC 9112 3.2.2); forward origin-form
            int authStart = target.indexOf("//") + 2;
            int slash = target.indexOf('/', authStart);
            String authority = slash < 0 ? target.substring(authStart) : target.substring(authStart, slash);
            if (authority.isEmpty() || authority.indexOf('@') >= 0) {
                throw new ProxyException(Failure.BAD_REQUEST, "malformed request target");
            }
            path = slash < 0 ? "/" : target.substring(slash);
            req.target = path;
            req.set("Host", authority);
            hosts = 1;
        } else if (target.equals("*") && req.method.equals("OPTIONS")) {
            path = "*";
        } else {
            throw new ProxyException(Failure.BAD_REQUEST, "malformed request target");
        }
        if (hosts == 0 && req.minorVersion >= 1) {
            throw new ProxyException(Failure.BAD_REQUEST, "missing Host header");
        }
        if (hosts == 1) {
            String h = req.get("Host");
            for (int i = 0; i < h.length(); i++) {
                char c = h.charAt(i);
                if (c <= ' ' || c == '/' || c == '\\' || c == '@' || c >= 0x7f) {
                    throw new ProxyException(Failure.BAD_REQUEST, "invalid Host header");
                }
            }
        }
        int pathEnd = path.indexOf('?');
        if (pathEnd >= 0) {
            path = path.substring(0, pathEnd);
        }
        BodyFraming framing = BodyFraming.ofRequest(req, maxBody);
        boolean keepAlive = req.minorVersion >= 1 ? !req.hasToken("Connection", "close")
                : req.hasToken("Connection", "keep-alive");
        return new RequestCheck(path, framing, keepAlive);
    }
}
