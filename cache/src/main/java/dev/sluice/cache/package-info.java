/** Sluice cache module. */
package dev.sluice.cache;
