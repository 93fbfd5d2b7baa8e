package dev.sluice.cache;

/**
 * How long a stored response stays fresh and how old it is (RFC 9111 4.2), for a shared cache. Times are epoch
 * seconds, always passed in, so that tests (and a stale-while-revalidate check) can use any clock.
 *
 * @param lifetime            freshness lifetime in seconds (0 when the response said something invalid: stale)
 * @param correctedInitialAge the age the response had when it was received (4.2.3)
 * @param responseTime        when it was received
 * @param source              where the lifetime came from, for Cache-Status and the admin API
 */
public record Freshness(long lifetime, long correctedInitialAge, long responseTime, Source source) {

    /** Where a freshness lifetime came from. */
    public enum Source {
        S_MAXAGE, MAX_AGE, EXPIRES, HEURISTIC, DEFAULT_TTL,
        /** Invalid or conflicting freshness information: already stale (RFC 9111 4.2.1). */
        INVALID,
        /** Nothing says how long: not fresh at all (stored only to be revalidated, when at all). */
        NONE;

        public boolean explicit() {
            return this == S_MAXAGE || this == MAX_AGE || this == EXPIRES || this == INVALID;
        }
    }

    /** Status codes that are heuristically cacheable (RFC 9110 15.1). */
    public static boolean heuristicallyCacheable(int status) {
        return switch (status) {
            case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501 -> true;
            default -> false;
        };
    }

    /**
     * The freshness of a response received at {@code responseTime} for a request sent at {@code requestTime}.
     *
     * @param heuristicMax the cap of a heuristic lifetime (10% of the time since Last-Modified), 0 = no heuristic
     * @param defaultTtl   the lifetime of a response without explicit freshness when the route sets one (0 = none);
     *                     applied only when {@code defaultTtlApplies}
     */
    public static Freshness of(Fields resp, CacheControl cc, int status, long requestTime, long responseTime,
            long heuristicMax, long defaultTtl, boolean defaultTtlApplies) {
        long date = resp.count("Date") == 1 ? HttpDate.parse(resp.joined("Date"), responseTime) : HttpDate.INVALID;
        long dateValue = date == HttpDate.INVALID ? responseTime : date;
        long age = parseAge(resp.joined("Age"));
        long apparentAge = Math.max(0, responseTime - dateValue);
        long responseDelay = Math.max(0, responseTime - requestTime);
        long correctedInitialAge = Math.max(apparentAge, age + responseDelay);

        long lifetime;
        Source source;
        if (cc.sMaxAge != CacheControl.ABSENT) {
            lifetime = cc.sMaxAge;
            source = Source.S_MAXAGE;
        } else if (cc.maxAge != CacheControl.ABSENT) {
            lifetime = cc.maxAge;
            source = Source.MAX_AGE;
        } else if (resp.count("Expires") > 0) {
            long expires = resp.count("Expires") == 1 ? HttpDate.parse(resp.joined("Expires"), responseTime) : HttpDate.INVALID;
            // an invalid Expires (0 included) or several of them: already expired (RFC 9111 5.3)
            lifetime = expires == HttpDate.INVALID ? CacheControl.INVALID : Math.max(0, expires - dateValue);
            source = Source.EXPIRES;
        } else {
            long lastModified = HttpDate.parse(resp.joined("Last-Modified"), responseTime);
            if (heuristicMax > 0 && lastModified != HttpDate.INVALID && heuristicallyCacheable(status)
                    && lastModified <= dateValue) {
                lifetime = Math.min(heuristicMax, (dateValue - lastModified) / 10);
                source = Source.HEURISTIC;
            } else if (defaultTtl > 0 && defaultTtlApplies) {
                lifetime = defaultTtl;
                source = Source.DEFAULT_TTL;
            } else {
                lifetime = 0;
                source = Source.NONE;
            }
        }
        if (lifetime == CacheControl.INVALID) {
            return new Freshness(0, correctedInitialAge, responseTime, Source.INVALID);
        }
        return new Freshness(lifetime, correctedInitialAge, responseTime, source);
    }

    /** The Age field's value (the first of several), 0 when absent or invalid. */
    static long parseAge(String value) {
        if (value == null) {
            return 0;
        }
        int comma = value.indexOf(',');
        long v = CacheControl.seconds((comma < 0 ? value : value.substring(0, comma)).trim());
        return v < 0 ? 0 : v;
    }

    /** current_age (RFC 9111 4.2.3) at {@code now}. */
    public long age(long now) {
        return correctedInitialAge + Math.max(0, now - responseTime);
    }

    /** Seconds it stays fresh from {@code now}; 0 or less: stale by that much. */
    public long ttl(long now) {
        return lifetime - age(now);
    }

    public boolean fresh(long now) {
        return ttl(now) > 0;
    }
}
