/**
 * Sluice shm: per-event-loop shared-memory segments (memfd or /dev/shm, mmap'd and mlocked through FFM), an extent
 * allocator per segment, and completion-tracked reuse of extents that sends still reference.
 *
 * <p>The public surface: {@link dev.sluice.shm.ShmBuilder} builds {@link dev.sluice.shm.Segments}, one
 * {@link dev.sluice.shm.Store} per loop; a store hands out {@link dev.sluice.shm.Extent}s and reports
 * {@link dev.sluice.shm.StoreStats}. No dependencies beyond the JDK; the JVM needs
 * {@code --enable-native-access=ALL-UNNAMED}.
 */
package dev.sluice.shm;
