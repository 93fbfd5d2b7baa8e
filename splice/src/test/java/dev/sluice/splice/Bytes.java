package dev.sluice.splice;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic, position-addressable byte stream: byte {@code p} is byte {@code p & 7} of
 * splitmix64(seed + (p >>> 3)). Any window can be produced or verified without the bytes before it.
 */
final class Bytes {
    static final long SEED = 0x5EEDL;
    private static final int CHUNK = 64 * 1024;

    private Bytes() {
    }

    static long word(long index) {
        long z = SEED + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static void fill(long pos, byte[] buf, int off, int len) {
        long w = word(pos >>> 3);
        for (int i = 0; i < len; i++) {
            long p = pos + i;
            int shift = (int) (p & 7);
            if (shift == 0 && i > 0) {
                w = word(p >>> 3);
            }
            buf[off + i] = (byte) (w >>> (shift * 8));
        }
    }

    static byte[] of(long pos, int len) {
        byte[] b = new byte[len];
        fill(pos, b, 0, len);
        return b;
    }

    /** Writes bytes [from, from + n) of the stream; {@code progress} (may be null) counts bytes written. */
    static void write(OutputStream out, long from, long n, AtomicLong progress) throws IOException {
        byte[] buf = new byte[CHUNK];
        long done = 0;
        while (done < n) {
            int len = (int) Math.min(CHUNK, n - done);
            fill(from + done, buf, 0, len);
            out.write(buf, 0, len);
            done += len;
            if (progress != null) {
                progress.addAndGet(len);
            }
        }
        out.flush();
    }

    /**
     * Reads exactly {@code n} bytes and compares them with bytes [from, from + n) of the stream.
     *
     * @return -1 if all match, else the stream position of the first mismatch
     * @throws EOFException if the stream ends early
     */
    static long readAndVerify(InputStream in, long from, long n) throws IOException {
        byte[] got = new byte[CHUNK];
        byte[] want = new byte[CHUNK];
        long done = 0;
        while (done < n) {
            int len = (int) Math.min(CHUNK, n - done);
            int r = in.readNBytes(got, 0, len);
            if (r < len) {
                throw new EOFException("EOF after " + (done + r) + " of " + n + " bytes");
            }
            fill(from + done, want, 0, len);
            int mismatch = java.util.Arrays.mismatch(got, 0, len, want, 0, len);
            if (mismatch >= 0) {
                return from + done + mismatch;
            }
            done += len;
        }
        return -1;
    }
}
