package dev.sluice.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;

class MemfdStoreTest {
    private static final long MIB = 1 << 20;

    /** Reads {@code length} bytes of the store's file at {@code position} through the fd, not the mapping. */
    private static byte[] readFile(Store store, long position, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + store.fd()), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            while (buf.hasRemaining()) {
                if (ch.read(buf, position + buf.position()) < 0) {
                    break;
                }
            }
            return buf.array();
        }
    }

    @Test
    void build_memfd_mappingIsSharedWithTheFd() throws IOException {
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(4 * MIB).loops(2).name("fdshare").build()) {
            Store store = segments.store(1);
            assertEquals(Backing.MEMFD, store.backing());
            assertTrue(store.fd() > 2);
            assertEquals(2 * MIB, Files.size(Path.of("/proc/self/fd/" + store.fd())));
            Extent e = store.allocate(10_000);
            e.slice().set(ValueLayout.JAVA_BYTE, 9_999, (byte) 0x5A);
            assertEquals(0x5A, readFile(store, e.offset() + 9_999, 1)[0], "a write to the mapping is in the file");
            assertTrue(TestSyscalls.mappingsMentioning("memfd:fdshare-1") >= 1, "named in /proc/self/maps");
        }
    }

    @Test
    void close_everySegment_releasesEveryFdAndMapping() throws IOException {
        long fdsBefore = TestSyscalls.openFds();
        Segments segments = ShmBuilder.newBuilder().totalBytes(6 * MIB).loops(3).name("leakcheck").build();
        assertEquals(fdsBefore + 3, TestSyscalls.openFds(), "one fd per loop");
        assertEquals(3, TestSyscalls.mappingsMentioning("memfd:leakcheck-"));
        for (Store store : segments.stores()) {
            Extent e = store.allocate(MIB);
            e.retain(); // close must not wait for, or be confused by, outstanding references
            e.free();
        }
        segments.close();
        assertEquals(fdsBefore, TestSyscalls.openFds(), "every fd closed");
        assertEquals(0, TestSyscalls.mappingsMentioning("memfd:leakcheck-"), "every mapping gone");
        Store closed = segments.store(0);
        assertThrows(IllegalStateException.class, () -> closed.segment().get(ValueLayout.JAVA_BYTE, 0),
                "access after close fails in Java, not in the kernel");
        assertEquals(0, closed.stats().lockedBytes());
    }

    @Test
    void build_posixShm_createsNamedFilesAndUnlinksThemOnClose() throws IOException {
        String prefix = "sluice-test-" + ProcessHandle.current().pid();
        long fdsBefore = TestSyscalls.openFds();
        Path file0 = Path.of("/dev/shm/" + prefix + "-0");
        Path file1 = Path.of("/dev/shm/" + prefix + "-1");
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(2 * MIB).loops(2).posixShm(prefix).build()) {
            assertEquals(Backing.POSIX_SHM, segments.backing());
            assertEquals(MIB, Files.size(file0));
            assertEquals(MIB, Files.size(file1));
            Store store = segments.store(0);
            Extent e = store.allocate(4096);
            e.slice().fill((byte) 7);
            assertEquals(7, Files.readAllBytes(file0)[100]);
        }
        assertFalse(Files.exists(file0));
        assertFalse(Files.exists(file1));
        assertEquals(fdsBefore, TestSyscalls.openFds());
    }

    @Test
    void build_failsForOneLoop_closesTheStoresAlreadyBuilt() throws IOException {
        String prefix = "sluice-clash-" + ProcessHandle.current().pid();
        Path clash = Path.of("/dev/shm/" + prefix + "-1");
        Files.write(clash, new byte[0]);
        try {
            long fdsBefore = TestSyscalls.openFds();
            ShmException e = assertThrows(ShmException.class,
                    () -> ShmBuilder.newBuilder().totalBytes(2 * MIB).loops(2).posixShm(prefix).build());
            assertEquals(Native.EEXIST, e.errno());
            assertTrue(e.getMessage().contains(clash.toString()) && e.getMessage().contains("EEXIST"),
                    e.getMessage());
            assertEquals(fdsBefore, TestSyscalls.openFds(), "loop 0's store was closed again");
            assertFalse(Files.exists(Path.of("/dev/shm/" + prefix + "-0")), "and its file unlinked");
        } finally {
            Files.deleteIfExists(clash);
        }
    }

    @Test
    void build_budgetNotDivisible_storesNeverExceedIt() {
        long budget = 10 * MIB + 12345;
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(budget).loops(3).heap().build()) {
            assertTrue(segments.capacityBytes() <= budget);
            assertTrue(segments.capacityBytes() > budget - 3 * 4096);
            for (Store store : segments.stores()) {
                assertEquals(0, store.capacity() % 4096);
                assertEquals(segments.store(0).capacity(), store.capacity());
            }
            assertEquals(segments.capacityBytes(), segments.stats().freeBytes());
        }
    }

    @Test
    void build_badSettings_failWithMessagesNamingThem() {
        assertTrue(assertThrows(IllegalStateException.class, () -> ShmBuilder.newBuilder().build())
                .getMessage().contains("totalBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ShmBuilder.newBuilder().blockSize(1000))
                .getMessage().contains("blockSize must be a power of two"));
        assertTrue(assertThrows(IllegalStateException.class,
                () -> ShmBuilder.newBuilder().totalBytes(MIB).blockSize(1024).build())
                .getMessage().contains("multiple of the page size"));
        assertTrue(assertThrows(IllegalStateException.class,
                () -> ShmBuilder.newBuilder().totalBytes(4096).loops(2).build())
                .getMessage().contains("less than one 4096-byte block per loop"));
        assertTrue(assertThrows(IllegalStateException.class,
                () -> ShmBuilder.newBuilder().totalBytes(MIB).heap().lockPolicy(LockPolicy.REQUIRED).build())
                .getMessage().contains("heap stores cannot be locked"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ShmBuilder.newBuilder().posixShm("a/b"))
                .getMessage().contains("a/b"));
        try (Segments heap = ShmBuilder.newBuilder().totalBytes(MIB).heap().blockSize(64).build()) {
            assertEquals(64, heap.store(0).blockSize(), "heap stores take small blocks");
        }
    }

    @Test
    void segment_over2GiB_offsetsBeyond2GiBAndViewsOfAtMost1GiB() throws IOException {
        // Not populated and not locked: only the few pages touched below are ever backed by memory.
        long size = 3L << 30;
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(size).lockPolicy(LockPolicy.OFF)
                .populate(false).name("big").build()) {
            Store store = segments.store(0);
            assertEquals(size, store.capacity());
            Extent first = store.allocate(1L << 30);
            Extent big = store.allocate((2L << 30) - 4096 + 17); // ends past 3 GiB - 4 KiB, beyond any int offset
            assertNotNull(big);
            assertEquals(1L << 30, big.offset());
            ByteBuffer[] views = big.byteBuffers();
            assertEquals(2, views.length);
            assertEquals(Extent.MAX_BUFFER_BYTES, views[0].capacity());
            assertEquals(big.length() - Extent.MAX_BUFFER_BYTES, views[1].capacity());
            long last = big.length() - 1;
            big.slice().set(ValueLayout.JAVA_BYTE, last, (byte) 0x42);
            assertEquals(0x42, views[1].get(views[1].capacity() - 1));
            assertEquals(0x42, readFile(store, big.offset() + last, 1)[0], "file offset > 2^31 through the fd");
            assertEquals(0x42, big.byteBuffer(last, 1).get(0));
            assertThrows(IndexOutOfBoundsException.class, () -> big.byteBuffer(0, Integer.MAX_VALUE));
            first.free();
            big.free();
        }
    }

    @Test
    void reclaim_splicedExtent_punchesItOutOfTheFile() throws IOException {
        try (Segments segments = ShmBuilder.newBuilder().totalBytes(MIB).name("punch").build()) {
            Store store = segments.store(0);
            Extent spliced = store.allocate(3 * 4096);
            Extent copied = store.allocate(3 * 4096);
            spliced.slice().fill((byte) 0x11);
            copied.slice().fill((byte) 0x22);
            spliced.retain();
            spliced.markSpliced();
            spliced.free();
            copied.free();
            assertEquals(1, store.reclaim(), "only the unreferenced one");
            assertEquals(0x22, readFile(store, copied.offset(), 1)[0], "not spliced: left in place, not punched");
            spliced.release();
            assertEquals(1, store.reclaim());
            StoreStats s = store.stats();
            assertEquals(1, s.punches());
            assertEquals(3 * 4096, s.punchedBytes());
            // A punched hole reads as zeros: the old pages left the file (in-flight skbs keep them).
            byte[] after = readFile(store, spliced.offset(), 3 * 4096);
            for (byte b : after) {
                assertEquals(0, b);
            }
            MemorySegment again = store.allocate(3 * 4096).slice();
            assertEquals(0, again.get(ValueLayout.JAVA_BYTE, 0), "the mapping sees the fresh zero page too");
        }
    }
}
