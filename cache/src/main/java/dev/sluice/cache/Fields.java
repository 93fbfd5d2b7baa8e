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
}
