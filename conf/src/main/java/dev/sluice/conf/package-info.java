/** Sluice conf module. */
package dev.sluice.conf;
