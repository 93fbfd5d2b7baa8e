/** Sluice admin module. */
package dev.sluice.admin;
