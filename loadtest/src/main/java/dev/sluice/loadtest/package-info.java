/** Sluice loadtest module. */
package dev.sluice.loadtest;
