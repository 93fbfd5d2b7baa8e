package dev.sluice.loadtest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which request to send next and what its response must be: either a URL list (round robin per connection, each
 * URL's {@code size=}, {@code status=} and {@code echo=} parameters tell what the origin serves) or a weighted size
 * mix ({@code 1m:8,64m:1}) turned into {@code PREFIX/SIZE?size=SIZE} targets; optionally unique paths (cache
 * misses) and single Range requests.
 */
final class Workload {
    /**
     * One planned request. {@code length} is the expected response body length (-1: not checked), {@code offset}
     * its payload offset; {@code upload} the request body to PUT (-1: a GET).
     */
    record Spec(String target, long seed, int status, boolean verifyBytes, long offset, long length, long full,
            String range, long upload) {}

    private record Entry(String target, String path, String query, long size, int status, boolean echo,
            int weight) {}

    /**
     * Unique paths: this JVM's random prefix, then a counter per workload instance, the connection and its
     * sequence number, so no path repeats within a run (a benchmark's client JVM) nor, but by a 1 in 2^40 chance,
     * across runs whose proxies keep their caches.
     */
    private static final String RUN_PREFIX = Long.toString(new java.security.SecureRandom().nextLong() >>> 24, 36);
    private static final AtomicLong INSTANCES = new AtomicLong();

    private final List<Entry> entries;
    private final int totalWeight;
    private final boolean weighted;
    private final boolean unique;
    private final String nonce;
    private final Range range;
    private boolean upload;

    private Workload(List<Entry> entries, boolean weighted, boolean unique, Range range) {
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("workload has no URLs");
        }
        this.entries = List.copyOf(entries);
        this.totalWeight = entries.stream().mapToInt(Entry::weight).sum();
        this.weighted = weighted;
        this.unique = unique;
        this.nonce = RUN_PREFIX + "-" + INSTANCES.incrementAndGet();
        this.range = range;
    }

    /** Targets such as {@code /a/b?size=1m}. */
    static Workload urls(List<String> targets, boolean unique, String range) {
        List<Entry> out = new ArrayList<>();
        for (String t : targets) {
            if (!t.startsWith("/")) {
                throw new IllegalArgumentException("URL must be a path starting with '/': " + t);
            }
            Query q = Query.parse(t);
            int qm = t.indexOf('?');
            out.add(new Entry(t, q.path(), qm < 0 ? "" : t.substring(qm + 1), q.size("size", 1024),
                    (int) q.number("status", 200), q.flag("echo"), 1));
        }
        return new Workload(out, false, unique, Range.parse(range));
    }

    /** A size mix {@code SIZE[:WEIGHT],...}, e.g. {@code 1m:8,64m:1}; {@code extraQuery} is appended to each URL. */
    static Workload sizes(String mix, String prefix, String extraQuery, boolean unique, String range) {
        List<Entry> out = new ArrayList<>();
        String pre = prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
        for (String part : mix.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int colon = p.indexOf(':');
            String sz = (colon < 0 ? p : p.substring(0, colon)).toLowerCase(Locale.ROOT);
            int w = colon < 0 ? 1 : Integer.parseInt(p.substring(colon + 1).strip());
            if (w < 1) {
                throw new IllegalArgumentException("weight must be >= 1: " + p);
            }
            long size = ByteSize.parse(sz);
            String path = pre + "/" + sz;
            String query = "size=" + sz + (extraQuery == null || extraQuery.isEmpty() ? "" : "&" + extraQuery);
            Query q = Query.parse(path + "?" + query);
            out.add(new Entry(path + "?" + query, path, query, size, (int) q.number("status", 200), q.flag("echo"),
                    w));
        }
        return new Workload(out, true, unique, Range.parse(range));
    }

    /** PUT each target's payload ({@code size=} bytes) instead of GETting it; the origin answers 201 + verdict. */
    Workload upload(boolean upload) {
        this.upload = upload;
        return this;
    }

    Spec next(SplittableRandom rnd, int connection, long seq) {
        Entry e;
        if (weighted) {
            int x = rnd.nextInt(totalWeight);
            int i = 0;
            while (x >= entries.get(i).weight) {
                x -= entries.get(i++).weight;
            }
            e = entries.get(i);
        } else {
            e = entries.get((int) ((seq + connection) % entries.size()));
        }
        String path = e.path;
        String target = e.target;
        if (unique) {
            path = path + "/u" + nonce + "-" + connection + "-" + seq;
            target = e.query.isEmpty() ? path : path + "?" + e.query;
        }
        long seed = Payload.seed(path);
        if (upload) {
            return new Spec(target, seed, e.status == 200 ? 201 : e.status, false, 0, -1, e.size, null, e.size);
        }
        boolean noBody = e.status == 204 || e.status == 304;
        long full = noBody ? 0 : e.size;
        Picked r = range == null || e.echo || e.status != 200 ? null : range.pick(rnd, e.size);
        if (r == null) {
            return new Spec(target, seed, e.status, !e.echo, 0, full, full, null, -1);
        }
        if (r.start < 0) {
            return new Spec(target, seed, 416, false, 0, 0, e.size, r.header, -1);
        }
        return new Spec(target, seed, 206, true, r.start, r.end - r.start + 1, e.size, r.header, -1);
    }

    /** A Range header and the slice it selects ({@code start < 0}: unsatisfiable, 416). */
    record Picked(String header, long start, long end) {}

    /** Single byte range requests: {@code a-b}, {@code a-}, {@code -n} or {@code random}. */
    record Range(long a, long b, boolean suffix, boolean random) {
        static Range parse(String s) {
            if (s == null || s.isEmpty()) {
                return null;
            }
            if (s.equals("random")) {
                return new Range(0, 0, false, true);
            }
            int dash = s.indexOf('-');
            if (dash < 0) {
                throw new IllegalArgumentException("range must be a-b, a-, -n or random: " + s);
            }
            String x = s.substring(0, dash);
            String y = s.substring(dash + 1);
            if (x.isEmpty()) {
                return new Range(0, ByteSize.parse(y), true, false);
            }
            long a = ByteSize.parse(x);
            long b = y.isEmpty() ? Long.MAX_VALUE : ByteSize.parse(y);
            if (b < a) {
                throw new IllegalArgumentException("range end before start: " + s);
            }
            return new Range(a, b, false, false);
        }

        /** The header to send for a representation of {@code size} bytes, or null for none. */
        Picked pick(SplittableRandom rnd, long size) {
            if (random) {
                if (size == 0) {
                    return null;
                }
                long x = rnd.nextLong(size);
                long y = rnd.nextLong(size);
                return new Picked("bytes=" + Math.min(x, y) + "-" + Math.max(x, y), Math.min(x, y), Math.max(x, y));
            }
            if (suffix) {
                String h = "bytes=-" + b;
                return size == 0 || b == 0 ? new Picked(h, -1, -1) : new Picked(h, Math.max(0, size - b), size - 1);
            }
            String h = "bytes=" + a + "-" + (b == Long.MAX_VALUE ? "" : Long.toString(b));
            return a >= size ? new Picked(h, -1, -1) : new Picked(h, a, Math.min(b, size - 1));
        }
    }
}
