package dev.sluice.loadtest;

import io.netty.buffer.ByteBuf;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Deterministic body bytes derived from a request path: the origin serves them and the load client (and any test)
 * verifies them without keeping a copy.
 *
 * <p>Byte {@code i} of the body of a path is byte {@code i & 7} (little-endian) of the 64-bit word
 * {@code splitmix64(seed + (i / 8 + 1) * GOLDEN)}. splitmix64's finalizer is a bijection and the counter is
 * injective for offsets below 2^67, so no two 8-byte words of one body are equal: the stream is not periodic and a
 * chunk delivered at the wrong offset, duplicated or dropped is detected. Generation and verification work a word
 * at a time (several GB/s on one core).
 */
public final class Payload {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Payload() {}

    /**
     * The seed of a path. The path is taken as sent on the request line, without percent-decoding; anything from
     * the first {@code '?'} on (a query string) is ignored, so {@code seed("/a?size=1")} equals {@code seed("/a")}.
     */
    public static long seed(String path) {
        int q = path.indexOf('?');
        String p = q < 0 ? path : path.substring(0, q);
        long h = 0xcbf29ce484222325L; // FNV-1a 64 over UTF-8, then mixed
        for (byte b : p.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h);
    }

    /** The word holding bytes {@code [8*index, 8*index+8)}. */
    static long word(long seed, long index) {
        return mix(seed + (index + 1) * GOLDEN);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static byte byteAt(long seed, long offset) {
        checkOffset(offset);
        return (byte) (word(seed, offset >>> 3) >>> ((offset & 7) << 3));
    }

    /** Writes payload bytes {@code [offset, offset+len)} into {@code dst[off..off+len)}. */
    public static void fill(long seed, long offset, byte[] dst, int off, int len) {
        checkOffset(offset);
        java.util.Objects.checkFromIndexSize(off, len, dst.length);
        int end = off + len;
        int i = off;
        long o = offset;
        while ((o & 7) != 0 && i < end) {
            dst[i++] = byteAt(seed, o++);
        }
        long w = o >>> 3;
        for (; i + 8 <= end; i += 8, w++) {
            LONG_LE.set(dst, i, word(seed, w));
        }
        if (i < end) {
            long v = word(seed, w);
            for (; i < end; i++, v >>>= 8) {
                dst[i] = (byte) v;
            }
        }
    }

    /** Writes payload bytes {@code [offset, offset+len)} at {@code dst}'s writer index and advances it by len. */
    public static void fill(long seed, long offset, ByteBuf dst, int len) {
        checkOffset(offset);
        if (len < 0) {
            throw new IllegalArgumentException("len < 0: " + len);
        }
        dst.ensureWritable(len);
        int wi = dst.writerIndex();
        if (dst.hasArray()) {
            fill(seed, offset, dst.array(), dst.arrayOffset() + wi, len);
        } else if (dst.nioBufferCount() == 1) {
            fill(seed, offset, dst.nioBuffer(wi, len));
        } else {
            for (int i = 0; i < len; i++) {
                dst.setByte(wi + i, byteAt(seed, offset + i));
            }
        }
        dst.writerIndex(wi + len);
    }

    /** Fills {@code buf} from position to limit (position unchanged). */
    static void fill(long seed, long offset, ByteBuffer buf) {
        int i = buf.position();
        int end = buf.limit();
        long o = offset;
        while ((o & 7) != 0 && i < end) {
            buf.put(i++, byteAt(seed, o++));
        }
        boolean swap = buf.order() != ByteOrder.LITTLE_ENDIAN;
        long w = o >>> 3;
        for (; i + 8 <= end; i += 8, w++) {
            long v = word(seed, w);
            buf.putLong(i, swap ? Long.reverseBytes(v) : v);
        }
        if (i < end) {
            long v = word(seed, w);
            for (; i < end; i++, v >>>= 8) {
                buf.put(i, (byte) v);
            }
        }
    }

    /**
     * Compares {@code buf[off..off+len)} with payload bytes {@code [offset, offset+len)}.
     *
     * @return -1 if all match, else the absolute payload offset of the first wrong byte
     */
    public static long firstMismatch(long seed, long offset, byte[] buf, int off, int len) {
        checkOffset(offset);
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        int end = off + len;
        int i = off;
        long o = offset;
        while ((o & 7) != 0 && i < end) {
            if (buf[i] != byteAt(seed, o)) {
                return o;
            }
            i++;
            o++;
        }
        long w = o >>> 3;
        for (; i + 8 <= end; i += 8, w++) {
            long diff = (long) LONG_LE.get(buf, i) ^ word(seed, w);
            if (diff != 0) {
                return (w << 3) + (Long.numberOfTrailingZeros(diff) >>> 3);
            }
        }
        if (i < end) {
            long v = word(seed, w);
            for (long p = w << 3; i < end; i++, p++, v >>>= 8) {
                if (buf[i] != (byte) v) {
                    return p;
                }
            }
        }
        return -1;
    }

    /**
     * Compares {@code buf}'s bytes from position to limit (position unchanged) with payload bytes starting at
     * {@code offset}.
     *
     * @return -1 if all match, else the absolute payload offset of the first wrong byte
     */
    public static long firstMismatch(long seed, long offset, ByteBuffer buf) {
        checkOffset(offset);
        if (buf.hasArray()) {
            return firstMismatch(seed, offset, buf.array(), buf.arrayOffset() + buf.position(), buf.remaining());
        }
        int i = buf.position();
        int end = buf.limit();
        long o = offset;
        while ((o & 7) != 0 && i < end) {
            if (buf.get(i) != byteAt(seed, o)) {
                return o;
            }
            i++;
            o++;
        }
        boolean swap = buf.order() != ByteOrder.LITTLE_ENDIAN;
        long w = o >>> 3;
        for (; i + 8 <= end; i += 8, w++) {
            long v = buf.getLong(i);
            long diff = (swap ? Long.reverseBytes(v) : v) ^ word(seed, w);
            if (diff != 0) {
                return (w << 3) + (Long.numberOfTrailingZeros(diff) >>> 3);
            }
        }
        if (i < end) {
            long v = word(seed, w);
            for (long p = w << 3; i < end; i++, p++, v >>>= 8) {
                if (buf.get(i) != (byte) v) {
                    return p;
                }
            }
        }
        return -1;
    }

    /**
     * Compares {@code buf[index..index+len)} (indices unchanged) with payload bytes starting at {@code offset}.
     *
     * @return -1 if all match, else the absolute payload offset of the first wrong byte
     */
    public static long firstMismatch(long seed, long offset, ByteBuf buf, int index, int len) {
        checkOffset(offset);
        if (len == 0) {
            return -1;
        }
        if (buf.hasArray()) {
            return firstMismatch(seed, offset, buf.array(), buf.arrayOffset() + index, len);
        }
        int n = buf.nioBufferCount();
        if (n == 1) {
            return firstMismatch(seed, offset, buf.nioBuffer(index, len));
        }
        if (n > 1) {
            long o = offset;
            for (ByteBuffer b : buf.nioBuffers(index, len)) {
                long m = firstMismatch(seed, o, b);
                if (m >= 0) {
                    return m;
                }
                o += b.remaining();
            }
            return -1;
        }
        for (int i = 0; i < len; i++) {
            if (buf.getByte(index + i) != byteAt(seed, offset + i)) {
                return offset + i;
            }
        }
        return -1;
    }

    private static void checkOffset(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset < 0: " + offset);
        }
    }
}
