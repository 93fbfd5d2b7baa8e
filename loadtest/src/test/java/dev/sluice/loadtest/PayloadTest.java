package dev.sluice.loadtest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PayloadTest {
    private static final long SEED = Payload.seed("/some/path");

    @Test
    void seed_samePath_sameSeedAndQueryIgnored() {
        assertEquals(Payload.seed("/a/b"), Payload.seed("/a/b"));
        assertEquals(Payload.seed("/a/b"), Payload.seed("/a/b?size=10&x=y"));
        assertNotEquals(Payload.seed("/a/b"), Payload.seed("/a/c"));
        assertNotEquals(Payload.seed("/a/b"), Payload.seed("/a/b/"));
    }

    @Test
    void fill_twice_sameBytes() {
        byte[] a = new byte[10_000];
        byte[] b = new byte[10_000];
        Payload.fill(SEED, 12345, a, 0, a.length);
        Payload.fill(SEED, 12345, b, 0, b.length);
        assertArrayEquals(a, b);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 7, 8, 9, 65535, 1L << 33})
    void fill_anyOffset_matchesByteAt(long offset) {
        byte[] a = new byte[77];
        Payload.fill(SEED, offset, a, 3, 70);
        for (int i = 0; i < 70; i++) {
            assertEquals(Payload.byteAt(SEED, offset + i), a[3 + i], "byte " + (offset + i));
        }
        assertEquals(0, a[0]);
        assertEquals(0, a[73]);
    }

    @Test
    void fill_splitAtAnyPoint_equalsWholeFill() {
        byte[] whole = new byte[100];
        Payload.fill(SEED, 5, whole, 0, 100);
        for (int cut = 0; cut <= 100; cut++) {
            byte[] parts = new byte[100];
            Payload.fill(SEED, 5, parts, 0, cut);
            Payload.fill(SEED, 5 + cut, parts, cut, 100 - cut);
            assertArrayEquals(whole, parts, "cut at " + cut);
        }
    }

    @Test
    void fill_byteBufKinds_equalArrayFill() {
        byte[] want = new byte[70_001];
        Payload.fill(SEED, 3, want, 0, want.length);
        ByteBuf heap = Unpooled.buffer(1);
        ByteBuf direct = Unpooled.directBuffer(1);
        try {
            heap.writeByte(42);
            direct.writeByte(42);
            Payload.fill(SEED, 3, heap, want.length);
            Payload.fill(SEED, 3, direct, want.length);
            assertEquals(want.length + 1, heap.writerIndex());
            byte[] h = new byte[want.length];
            byte[] d = new byte[want.length];
            heap.getBytes(1, h);
            direct.getBytes(1, d);
            assertArrayEquals(want, h);
            assertArrayEquals(want, d);
            assertEquals(42, direct.getByte(0));
        } finally {
            heap.release();
            direct.release();
        }
    }

    @Test
    void payload_4MiB_noRepeatedWord() {
        int n = 4 << 20;
        byte[] b = new byte[n];
        Payload.fill(SEED, 0, b, 0, n);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        Set<Long> words = new HashSet<>();
        for (int i = 0; i < n; i += 8) {
            assertTrue(words.add(bb.getLong(i)), "word at " + i + " repeats");
        }
    }

    @Test
    void firstMismatch_chunkAtWrongOffset_detected() {
        byte[] chunk = new byte[65536];
        Payload.fill(SEED, 65536, chunk, 0, chunk.length);
        assertEquals(-1, Payload.firstMismatch(SEED, 65536, chunk, 0, chunk.length));
        // the right bytes one piece early, one piece late, or a byte off are all wrong
        assertEquals(0, Payload.firstMismatch(SEED, 0, chunk, 0, chunk.length));
        assertEquals(131072, Payload.firstMismatch(SEED, 131072, chunk, 0, chunk.length));
        long m = Payload.firstMismatch(SEED, 65537, chunk, 0, chunk.length);
        assertTrue(m >= 65537 && m < 65537 + 16, "mismatch at " + m);
        assertNotEquals(-1, Payload.firstMismatch(Payload.seed("/other"), 65536, chunk, 0, chunk.length));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 6, 7, 8, 500, 4093, 4094})
    void firstMismatch_flippedByte_reportsItsOffset(int at) {
        long offset = 13; // unaligned start: exercises head bytes, words and tail bytes
        int len = 4095;
        byte[] b = new byte[len];
        Payload.fill(SEED, offset, b, 0, len);
        b[at] ^= 1;
        long want = offset + at;
        assertEquals(want, Payload.firstMismatch(SEED, offset, b, 0, len));
        assertEquals(want, Payload.firstMismatch(SEED, offset, ByteBuffer.wrap(b)));
        ByteBuffer direct = ByteBuffer.allocateDirect(len + 5);
        direct.position(5);
        direct.put(b);
        direct.position(5);
        assertEquals(want, Payload.firstMismatch(SEED, offset, direct), "big-endian direct");
        assertEquals(5, direct.position());
        direct.order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(want, Payload.firstMismatch(SEED, offset, direct), "little-endian direct");
        ByteBuf d = Unpooled.directBuffer(len).writeBytes(b);
        CompositeByteBuf comp = Unpooled.compositeBuffer();
        comp.addComponent(true, Unpooled.wrappedBuffer(b, 0, 1000));
        comp.addComponent(true, Unpooled.directBuffer().writeBytes(b, 1000, len - 1000));
        try {
            assertEquals(want, Payload.firstMismatch(SEED, offset, d, 0, len));
            assertEquals(want, Payload.firstMismatch(SEED, offset, comp, 0, len));
        } finally {
            d.release();
            comp.release();
        }
    }

    @Test
    void firstMismatch_allCorrect_minusOne() {
        byte[] b = new byte[1000];
        Payload.fill(SEED, 99, b, 0, b.length);
        assertEquals(-1, Payload.firstMismatch(SEED, 99, b, 0, b.length));
        assertEquals(-1, Payload.firstMismatch(SEED, 99, ByteBuffer.wrap(b)));
        assertEquals(-1, Payload.firstMismatch(SEED, 99, b, 0, 0));
    }

    @Test
    void byteSize_suffixes_areBinary() {
        assertEquals(1024, ByteSize.parse("1k"));
        assertEquals(64L << 20, ByteSize.parse("64m"));
        assertEquals(64L << 20, ByteSize.parse("64MiB"));
        assertEquals(3L << 30, ByteSize.parse("3g"));
        assertEquals(17, ByteSize.parse("17"));
        assertEquals("64m", ByteSize.format(64L << 20));
        assertEquals("1000", ByteSize.format(1000));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("1x"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1"));
    }
}
