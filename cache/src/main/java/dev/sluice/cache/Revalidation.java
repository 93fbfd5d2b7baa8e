package dev.sluice.cache;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Validating a stored response with the origin (RFC 9111 4.3): the conditional fields a revalidation sends, whether
 * a 304 answers for the stored response (4.3.4), and the stored head updated from it (3.2). No network types: the
 * proxy sends the fields and brings the 304 back.
 */
public final class Revalidation {
    /** The fields of a stored head after a 304 updated it (3.2), in order. */
    public record Head(List<String> names, List<String> values) implements Fields {
        @Override
        public String joined(String name) {
            return Fields.joined(names, values, name);
        }

        @Override
        public int count(String name) {
            return Fields.count(names, name);
        }
    }

    private Revalidation() {}

    /** True when {@code r} carries something a conditional request can name: an ETag or a Last-Modified. */
    public static boolean validatable(StoredResponse r) {
        return r.field("ETag") != null || r.field("Last-Modified") != null;
    }

    /**
     * The conditional fields for validating {@code r} (4.3.1): its entity tag in If-None-Match (MUST, when it has
     * one) and its Last-Modified in If-Modified-Since (SHOULD: one stored response, not a subrange), as name/value
     * pairs.
     */
    public static List<String[]> conditionalFields(StoredResponse r) {
        List<String[]> out = new ArrayList<>(2);
        String etag = r.field("ETag");
        if (etag != null) {
            out.add(new String[] {"If-None-Match", etag.trim()});
        }
        String lm = r.field("Last-Modified");
        if (lm != null) {
            out.add(new String[] {"If-Modified-Since", lm.trim()});
        }
        return out;
    }

    /**
     * Whether a 304 answers for {@code r} (4.3.4): a strong entity tag in the 304 selects a stored response with the
     * same strong tag; a weak one (or a Last-Modified alone) one whose validator matches; a 304 with no validator at
     * all, the stored response the conditional request named (this cache validates one stored response at a time,
     * and names it with every validator it has). A 304 whose Content-Length differs from the stored body's length
     * describes another representation: it selects nothing.
     */
    public static boolean selects(StoredResponse r, Fields notModified) {
        String cl = notModified.joined("Content-Length");
        if (cl != null && !cl.trim().equals(Long.toString(r.length()))) {
            return false;
        }
        String newTag = notModified.joined("ETag");
        String storedTag = r.field("ETag");
        if (newTag != null) {
            newTag = newTag.trim();
            if (storedTag == null) {
                return false;
            }
            storedTag = storedTag.trim();
            boolean weak = newTag.startsWith("W/") || storedTag.startsWith("W/");
            // 4.3.4: a strong validator selects by strong comparison; weak ones by weak comparison (RFC 9110 8.8.3.2)
            return weak ? opaque(newTag).equals(opaque(storedTag)) : newTag.equals(storedTag);
        }
        String newLm = notModified.joined("Last-Modified");
        if (newLm != null) {
            String storedLm = r.field("Last-Modified");
            return storedLm != null && HttpDate.parse(newLm, 0) != HttpDate.INVALID
                    && HttpDate.parse(newLm, 0) == HttpDate.parse(storedLm, 0);
        }
        return true;
    }

    private static String opaque(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }

    /**
     * The stored head updated from a 304's field lines (3.2): each field the 304 carries replaces the stored lines of
     * that name, except Content-Length (the stored body's length stands), Age (recomputed on every use, never stored)
     * and Cache-Status (this hop's, written per response); the 304's hop-by-hop fields are removed before this.
     */
    public static Head updated(StoredResponse r, List<String> names304, List<String> values304) {
        List<String> replaced = new ArrayList<>();
        for (String n : names304) {
            String lower = n.toLowerCase(Locale.ROOT);
            if (!keep(lower) && !replaced.contains(lower)) {
                replaced.add(lower);
            }
        }
        List<String> names = new ArrayList<>(r.names().size() + names304.size());
        List<String> values = new ArrayList<>(r.names().size() + names304.size());
        for (int i = 0; i < r.names().size(); i++) {
            if (!replaced.contains(r.names().get(i).toLowerCase(Locale.ROOT))) {
                names.add(r.names().get(i));
                values.add(r.values().get(i));
            }
        }
        for (int i = 0; i < names304.size(); i++) {
            if (replaced.contains(names304.get(i).toLowerCase(Locale.ROOT))) {
                names.add(names304.get(i));
                values.add(values304.get(i));
            }
        }
        return new Head(List.copyOf(names), List.copyOf(values));
    }

    /** Fields a 304 never changes in a stored head. */
    private static boolean keep(String lowerName) {
        return lowerName.equals("content-length") || lowerName.equals("age") || lowerName.equals("cache-status");
    }
}
