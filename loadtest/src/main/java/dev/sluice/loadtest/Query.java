package dev.sluice.loadtest;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A request target split into raw path and decoded query parameters (repeatable, in order). */
final class Query {
    private final String path;
    private final List<String[]> params;

    private Query(String path, List<String[]> params) {
        this.path = path;
        this.params = params;
    }

    /**
     * Parses an origin-form ({@code /p?q}) or absolute-form ({@code http://h/p?q}) target.
     *
     * @throws IllegalArgumentException if a parameter is not decodable
     */
    static Query parse(String target) {
        String t = target;
        int hash = t.indexOf('#');
        if (hash >= 0) {
            t = t.substring(0, hash);
        }
        if (!t.startsWith("/") && !t.equals("*")) {
            int scheme = t.indexOf("://");
            if (scheme > 0) {
                int slash = t.indexOf('/', scheme + 3);
                int qm = t.indexOf('?', scheme + 3);
                if (slash < 0 || (qm >= 0 && qm < slash)) {
                    t = "/" + (qm < 0 ? "" : t.substring(qm));
                } else {
                    t = t.substring(slash);
                }
            }
        }
        int q = t.indexOf('?');
        String path = q < 0 ? t : t.substring(0, q);
        List<String[]> params = new ArrayList<>();
        if (q >= 0) {
            for (String part : t.substring(q + 1).split("&")) {
                if (part.isEmpty()) {
                    continue;
                }
                int eq = part.indexOf('=');
                String k = eq < 0 ? part : part.substring(0, eq);
                String v = eq < 0 ? "" : part.substring(eq + 1);
                params.add(new String[] {decode(k), decode(v)});
            }
        }
        return new Query(path, params);
    }

    private static String decode(String s) {
        return s.indexOf('%') < 0 && s.indexOf('+') < 0 ? s : URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    String path() {
        return path;
    }

    /** Last value of a parameter, or null. */
    String get(String name) {
        String v = null;
        for (String[] p : params) {
            if (p[0].equals(name)) {
                v = p[1];
            }
        }
        return v;
    }

    List<String> all(String name) {
        List<String> out = new ArrayList<>();
        for (String[] p : params) {
            if (p[0].equals(name)) {
                out.add(p[1]);
            }
        }
        return out;
    }

    boolean flag(String name) {
        String v = get(name);
        return v != null && !v.equals("0") && !v.equalsIgnoreCase("false") && !v.equalsIgnoreCase("no");
    }

    long size(String name, long dflt) {
        String v = get(name);
        return v == null ? dflt : ByteSize.parse(v);
    }

    long number(String name, long dflt) {
        String v = get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "=" + v + " is not a number");
        }
    }
}
