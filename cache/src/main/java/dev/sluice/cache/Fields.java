package dev.sluice.cache;

/**
 * A message's header (or trailer) fields as the cache reads them: names compare without case, and a field sent in
 * several lines reads as one list (RFC 9110 5.3). The proxy's parsed heads implement it; the cache knows no
 * network types.
 */
public interface Fields {
    /** Every value of {@code name} joined with ", ", or null when the field is absent. */
    String joined(String name);

    /** How many field lines carry {@code name}. */
    int count(String name);

    /** {@link #joined} over parallel lists of field names and values, for implementations that keep them so. */
    static String joined(java.util.List<String> names, java.util.List<String> values, String name) {
        String out = null;
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                out = out == null ? values.get(i) : out + ", " + values.get(i);
            }
        }
        return out;
    }

    /** {@link #count} over a list of field names. */
    static int count(java.util.List<String> names, String name) {
        int n = 0;
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                n++;
            }
        }
        return n;
    }
}
