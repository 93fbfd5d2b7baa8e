package dev.sluice.cache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Cache keys. The primary key is the host (lower case, without a default port) with the path and the query as the
 * route's {@link QueryPolicy} keeps it (RFC 9111 2: the target URI; the scheme is the listener's, the same for every
 * entry). The secondary key of a variant holds the request's values of the fields its response's Vary names,
 * normalised (4.1): names in lower case, whitespace collapsed, and the token lists whose order carries no meaning
 * (Accept-Encoding) sorted.
 */
public final class CacheKey {
    private static final java.util.regex.Pattern WHITESPACE = java.util.regex.Pattern.compile("[ \\t]+");

    /** Which query parameters are part of the key. */
    public sealed interface QueryPolicy {
        QueryPolicy ALL = new All();
        QueryPolicy NONE = new None();

        /** The whole query as sent. */
        record All() implements QueryPolicy {}

        /** No query: every query string shares one entry. */
        record None() implements QueryPolicy {}

        /** Only these parameters, in this order (names compared exactly), others dropped. */
        record Only(List<String> names) implements QueryPolicy {}
    }

    private CacheKey() {}

    /** The primary key of {@code host} and {@code target} (origin-form: path and query). */
    public static String primary(String host, String target, QueryPolicy query) {
        String h = host == null ? "" : host.toLowerCase(Locale.ROOT);
        if (h.endsWith(":80")) {
            h = h.substring(0, h.length() - 3);
        }
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        String kept = q < 0 ? "" : switch (query) {
            case QueryPolicy.All a -> target.substring(q);
            case QueryPolicy.None n -> "";
            case QueryPolicy.Only only -> only(target.substring(q + 1), only.names());
        };
        return h + path + kept;
    }

    private static String only(String query, List<String> names) {
        StringBuilder b = new StringBuilder();
        for (String name : names) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                if ((eq < 0 ? pair : pair.substring(0, eq)).equals(name)) {
                    b.append(b.length() == 0 ? '?' : '&').append(pair);
                }
            }
        }
        return b.toString();
    }

    /**
     * The field names a response's Vary lists, lower case, in order, without duplicates; empty when it has none.
     * Callers check for {@code *} first (never served from cache).
     */
    public static List<String> varyNames(Fields resp) {
        String vary = resp.joined("Vary");
        List<String> names = new ArrayList<>();
        if (vary == null) {
            return names;
        }
        for (String n : vary.split(",")) {
            String name = n.trim().toLowerCase(Locale.ROOT);
            if (!name.isEmpty() && !names.contains(name)) {
                names.add(name);
            }
        }
        return names;
    }

    /** The secondary key: each named field's normalised value in the request ("" when it has none). */
    public static String secondary(List<String> varyNames, Fields req) {
        if (varyNames.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (String name : varyNames) {
            b.append(name).append('=').append(normalise(name, req.joined(name))).append('\n');
        }
        return b.toString();
    }

    /** A request field's value as two requests that mean the same thing would both give it. */
    static String normalise(String name, String value) {
        if (value == null) {
            return "";
        }
        String[] items = value.split(",");
        for (int i = 0; i < items.length; i++) {
            items[i] = WHITESPACE.matcher(items[i].trim()).replaceAll(" ");
        }
        if (name.equals("accept-encoding")) {
            for (int i = 0; i < items.length; i++) {
                items[i] = items[i].toLowerCase(Locale.ROOT).replace(" ;", ";").replace("; ", ";");
            }
            Arrays.sort(items); // the order of codings carries no meaning (their q-values do)
        }
        return String.join(",", Arrays.stream(items).filter(s -> !s.isEmpty()).toList());
    }
}
