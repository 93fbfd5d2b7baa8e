/**
 * Sluice's HTTP cache, without network types: the rules of RFC 9111 for a shared cache ({@link
 * dev.sluice.cache.CacheControl}, {@link dev.sluice.cache.Freshness}, {@link dev.sluice.cache.Storability}), keys
 * ({@link dev.sluice.cache.CacheKey}) and the Cache-Status field ({@link dev.sluice.cache.CacheStatus}). Every time
 * is passed in, so the rules can be checked on any clock. Messages are read through {@link dev.sluice.cache.Fields}.
 */
package dev.sluice.cache;
