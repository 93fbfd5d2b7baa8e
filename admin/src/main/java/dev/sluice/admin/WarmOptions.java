package dev.sluice.admin;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A warm job's options, from the query of {@code POST /cache/warm} (a URL list) or the fields of its JSON object (an
 * S3 prefix). Every value is checked here: a bad one is a 400 naming it.
 *
 * @param concurrency warm fetches of this job at once (1..64, default 4)
 * @param rate        bytes per second newly stored, at most (token bucket; 0 = no cap)
 * @param maxBytes    the job stops starting fetches once it stored this much (0 = no cap)
 * @param revalidate  keys already cached are validated with the origin ({@code Cache-Control: no-cache})
 * @param background  priority = background (the default): under {@code cache.warm.max-in-flight} with the other
 *                    background jobs, and paused while client requests wait for upstream; normal: neither
 * @param host        the Host sent for keys given as a path alone; null = the route's (see CacheAdmin.warmTarget)
 * @param name        a label of the caller's, shown with the job (the CLI finds its job by it while it uploads)
 */
record WarmOptions(int concurrency, long rate, long maxBytes, boolean revalidate, boolean background, String host,
        String name) {
    static final Set<String> NAMES = Set.of("concurrency", "rate", "max-bytes", "revalidate", "priority", "host",
            "name");
    static final int MAX_CONCURRENCY = 64;

    /** From string values (query parameters, or JSON values turned to strings); unknown names are refused. */
    static WarmOptions of(Map<String, String> given) throws ApiError {
        for (String k : given.keySet()) {
            if (!NAMES.contains(k)) {
                throw ApiError.badRequest("unknown option '" + ApiError.quote(k) + "' (known: concurrency, rate,"
                        + " max-bytes, revalidate, priority, host, name)");
            }
        }
        int concurrency = 4;
        if (given.containsKey("concurrency")) {
            long c = number("concurrency", given.get("concurrency"));
            if (c < 1 || c > MAX_CONCURRENCY) {
                throw ApiError.badRequest("concurrency must be 1 to " + MAX_CONCURRENCY);
            }
            concurrency = (int) c;
        }
        long rate = given.containsKey("rate") ? bytes("rate", given.get("rate")) : 0;
        long maxBytes = given.containsKey("max-bytes") ? bytes("max-bytes", given.get("max-bytes")) : 0;
        boolean revalidate = bool("revalidate", given.getOrDefault("revalidate", "false"));
        String priority = given.getOrDefault("priority", "background");
        if (!priority.equals("background") && !priority.equals("normal")) {
            throw ApiError.badRequest("priority is background or normal, not '" + ApiError.quote(priority) + "'");
        }
        String host = given.get("host");
        if (host != null && (host.isEmpty() || host.chars().anyMatch(ch -> ch <= 0x20 || ch >= 0x7f || ch == '/'
                || ch == '@'))) {
            throw ApiError.badRequest("host must be a host[:port], as a client sends it in Host");
        }
        String name = given.get("name");
        if (name != null && (name.length() > 64 || name.chars().anyMatch(ch -> ch < 0x20 || ch >= 0x7f))) {
            throw ApiError.badRequest("name must be up to 64 printable ASCII characters");
        }
        return new WarmOptions(concurrency, rate, maxBytes, revalidate, priority.equals("background"), host, name);
    }

    Map<String, Object> json() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("concurrency", concurrency);
        m.put("rate", rate);
        m.put("max-bytes", maxBytes);
        m.put("revalidate", revalidate);
        m.put("priority", background ? "background" : "normal");
        m.put("host", host);
        m.put("name", name);
        return m;
    }

    private static long number(String name, String v) throws ApiError {
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw ApiError.badRequest(name + " must be a whole number, not '" + ApiError.quote(v) + "'");
        }
    }

    /** A byte count: digits with an optional k, m, g (or KiB, MiB, GiB: powers of 1024 either way). */
    static long bytes(String name, String v) throws ApiError {
        String s = v.strip().toLowerCase(Locale.ROOT);
        long unit = 1;
        for (String[] u : new String[][] {{"kib", "1024"}, {"mib", "1048576"}, {"gib", "1073741824"}, {"k", "1024"},
                {"m", "1048576"}, {"g", "1073741824"}, {"b", "1"}}) {
            if (s.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                s = s.substring(0, s.length() - u[0].length()).strip();
                break;
            }
        }
        long n = number(name, s);
        if (n < 0 || n > Long.MAX_VALUE / unit) {
            throw ApiError.badRequest(name + " must be 0 or more bytes, not '" + ApiError.quote(v) + "'");
        }
        return n * unit;
    }

    private static boolean bool(String name, String v) throws ApiError {
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw ApiError.badRequest(name + " must be true or false");
        };
    }
}
