package dev.sluice.cache;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tag to primary keys, for purges by tag. A stored variant's tags are the values of one response field (the cache's
 * {@code tag-header}, Surrogate-Key by default), split on spaces and commas, so Fastly's space-separated
 * {@code Surrogate-Key} and the comma-separated {@code Cache-Tag} both work (neither convention allows the other's
 * separator inside a tag).
 *
 * <p>What holds: a key is listed under a tag exactly while some variant of it in the index carries that tag. The
 * {@link CacheIndex} calls {@link #update} from inside its atomic per-key operations (compute, and the eviction
 * listener Caffeine runs inside the removal), so the changes for one key are serialised and never interleave; each
 * tag's set is changed atomically by {@code compute}, and a set left empty is removed with it. Readers (a purge) see
 * weakly consistent sets and check each key's variants again before acting.
 *
 * <p>Untrusted input: an origin decides the field's value, so at most {@link #MAX_TAGS} tags of at most
 * {@link #MAX_TAG_LENGTH} characters are indexed per variant; the rest are ignored (and cannot be purged by).
 */
final class TagIndex {
    static final int MAX_TAGS = 64;
    static final int MAX_TAG_LENGTH = 256;

    /** The field that carries tags, or null: tagging off. */
    private final String header;
    private final ConcurrentHashMap<String, Set<String>> keys = new ConcurrentHashMap<>();

    TagIndex(String header) {
        this.header = header == null || header.isBlank() ? null : header.trim();
    }

    boolean enabled() {
        return header != null;
    }

    String header() {
        return header;
    }

    /** The tags of one stored variant (its {@code header} values, in order, without duplicates). */
    List<String> tagsOf(StoredResponse r) {
        if (header == null) {
            return List.of();
        }
        Set<String> out = new java.util.LinkedHashSet<>();
        for (int i = 0; i < r.names().size() && out.size() < MAX_TAGS; i++) {
            if (!r.names().get(i).equalsIgnoreCase(header)) {
                continue;
            }
            String v = r.values().get(i);
            int start = -1;
            for (int j = 0; j <= v.length() && out.size() < MAX_TAGS; j++) {
                boolean sep = j == v.length() || v.charAt(j) == ' ' || v.charAt(j) == ',' || v.charAt(j) == '\t';
                if (!sep && start < 0) {
                    start = j;
                } else if (sep && start >= 0) {
                    if (j - start <= MAX_TAG_LENGTH) {
                        out.add(v.substring(start, j));
                    }
                    start = -1;
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * Key {@code primary}'s variants went from {@code before} to {@code after} (either may be empty). Called inside
     * the index's atomic operation on that key.
     */
    void update(String primary, List<StoredResponse> before, List<StoredResponse> after) {
        if (header == null) {
            return;
        }
        Set<String> old = union(before);
        Set<String> now = union(after);
        for (String t : old) {
            if (!now.contains(t)) {
                keys.computeIfPresent(t, (tag, set) -> {
                    set.remove(primary);
                    return set.isEmpty() ? null : set;
                });
            }
        }
        for (String t : now) {
            if (!old.contains(t)) {
                keys.compute(t, (tag, set) -> {
                    Set<String> s = set != null ? set : ConcurrentHashMap.newKeySet();
                    s.add(primary);
                    return s;
                });
            }
        }
    }

    private Set<String> union(List<StoredResponse> variants) {
        if (variants.isEmpty()) {
            return Set.of();
        }
        Set<String> s = new HashSet<>();
        for (StoredResponse r : variants) {
            s.addAll(tagsOf(r));
        }
        return s;
    }

    /** The keys listed under {@code tag} now (a copy). */
    List<String> keys(String tag) {
        Set<String> s = keys.get(tag);
        return s == null ? List.of() : List.copyOf(s);
    }

    /** Distinct tags indexed (for stats). */
    int tags() {
        return keys.size();
    }

    @Override
    public String toString() {
        return header == null ? "tags off" : "tags from " + header.toLowerCase(Locale.ROOT);
    }
}
