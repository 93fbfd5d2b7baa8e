package dev.sluice.proxy;

/**
 * The header rewriting a proxy owes both directions (RFC 9110 7.6): hop-by-hop fields removed, Via added, and for
 * requests the X-Forwarded-* fields. Framing and routing fields survive whatever Connection names.
 */
final class HeaderRules {
    static final String VIA = "sluice";

    private HeaderRules() {}

    /**
     * RFC 9110 7.6.1: Connection, the fields it names, and the standard hop-by-hop fields. A Connection option that
     * names a field framing or routing the message ({@link #neverHopByHop}) is ignored: dropping Content-Length while
     * still sending the body is request smuggling, dropping Host misroutes it. Transfer-Encoding is removed here and
     * put back by the caller when the body keeps its chunked framing.
     */
    static void stripHopByHop(HttpHead h) {
        String connection = h.joined("Connection");
        if (connection != null) {
            for (String token : connection.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !neverHopByHop(t)) {
                    h.remove(t);
                }
            }
        }
        h.remove("Connection");
        h.remove("Keep-Alive");
        h.remove("TE");
        h.remove("Trailer");
        h.remove("Upgrade");
        h.remove("Transfer-Encoding");
        for (int i = h.size() - 1; i >= 0; i--) {
            if (h.names.get(i).regionMatches(true, 0, "Proxy-", 0, 6)) {
                h.names.remove(i);
                h.values.remove(i);
            }
        }
    }

    /** Fields a Connection option may not remove: Content-Length, Transfer-Encoding (handled by framing) and Host. */
    static boolean neverHopByHop(String name) {
        return name.equalsIgnoreCase("Content-Length") || name.equalsIgnoreCase("Transfer-Encoding")
                || name.equalsIgnoreCase("Host");
    }

    /** Appends this hop to Via, with the protocol version of the message as received. */
    static void addVia(HttpHead h, int minor) {
        String via = h.joined("Via");
        String mine = (minor == 0 ? "1.0 " : "1.1 ") + VIA;
        h.set("Via", via == null ? mine : via + ", " + mine);
    }

    /**
     * Rewrites a request head for the upstream: hop-by-hop fields out, chunked framing kept ({@code transferEncoding}
     * non-null), X-Forwarded-For appended, X-Forwarded-Proto and -Host set, Via added. Once per request: the fields
     * appended would be appended again. (An HTTP/1.0 request without Host is given the server's address as Host when
     * its head is encoded for that server.)
     */
    static void forUpstream(HttpHead h, String transferEncoding, String clientIp) {
        String originalHost = h.get("Host");
        stripHopByHop(h);
        if (transferEncoding != null) {
            h.add("Transfer-Encoding", transferEncoding);
        }
        String xff = h.joined("X-Forwarded-For");
        h.set("X-Forwarded-For", xff == null ? clientIp : xff + ", " + clientIp);
        h.set("X-Forwarded-Proto", "http");
        if (originalHost != null) {
            h.set("X-Forwarded-Host", originalHost);
        }
        addVia(h, h.minorVersion);
    }
}
