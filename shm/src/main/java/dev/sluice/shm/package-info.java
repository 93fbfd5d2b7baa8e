/** Sluice shm module. */
package dev.sluice.shm;
