/** Sluice splice module. */
package dev.sluice.splice;
