package dev.sluice.cache;

import dev.sluice.shm.Extent;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One stored variant: its response head (status, reason and fields as they will be sent, hop-by-hop fields already
 * removed), its freshness, and its body in an extent of the filling loop's store. Immutable once published in the
 * {@link CacheIndex}, but for its hit counter; the body extent is freed when the variant leaves the index, and stays
 * readable for sends that retained it before ({@link Extent#tryRetain()}).
 *
 * @param primary    the primary key ({@link CacheKey#primary})
 * @param secondary  the secondary key from the request's values of {@code varyNames}
 * @param varyNames  the response's Vary field names, normalised ({@link CacheKey#varyNames})
 * @param control    the response's Cache-Control as parsed when it was stored (read-only)
 */
public record StoredResponse(String primary, String secondary, List<String> varyNames, int status, String reason,
        List<String> names, List<String> values, Freshness freshness, CacheControl control, Extent body, long length,
        AtomicLong hits) {

    /** Bytes held per stored field line beyond its characters (list slots, string headers). */
    private static final int PER_FIELD = 64;
    /** Bytes held per variant beyond its head and body (this record, its keys' headers, the index's node). */
    private static final int PER_ENTRY = 512;

    public StoredResponse {
        names = List.copyOf(names);
        values = List.copyOf(values);
        varyNames = List.copyOf(varyNames);
        if (names.size() != values.size()) {
            throw new IllegalArgumentException(names.size() + " names for " + values.size() + " values");
        }
    }

    /** What this variant costs the memory budget: its body's reserved bytes, its head and its metadata. */
    public long weight() {
        return headBytes() + (body == null ? 0 : body.capacity());
    }

    /** The Java heap this variant holds beside its body: its head and its metadata (estimated). */
    public long headBytes() {
        long w = PER_ENTRY + primary.length() + secondary.length() + reason.length();
        for (int i = 0; i < names.size(); i++) {
            w += PER_FIELD + names.get(i).length() + values.get(i).length();
        }
        return w;
    }

    /** This variant with another head (the same key, body and hit counter), for {@link CacheIndex#replace}. */
    public StoredResponse withHead(List<String> names, List<String> values, Freshness freshness, CacheControl control) {
        return new StoredResponse(primary, secondary, varyNames, status, reason, names, values, freshness, control, body,
                length, hits);
    }

    /**
     * This variant made stale at once (a soft purge): the same head, body and hit counter with a freshness lifetime of
     * 0, so it is served again only after revalidation, or where a request and the response allow stale.
     */
    public StoredResponse stale() {
        Freshness f = freshness;
        return withHead(names, values, new Freshness(0, f.correctedInitialAge(), f.responseTime(), f.source()), control);
    }

    /** The first value of a stored field, or null. */
    public String field(String name) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                return values.get(i);
            }
        }
        return null;
    }
}
