package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sluice.cache.ByteRanges;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Fuzz target for the Range field parser ({@link ByteRanges}), which reads untrusted input on every hit. Input:
 * {@link FuzzInput} parameters (the representation's length, 8 bytes, big-endian, folded to a non-negative value),
 * then the field value as ISO-8859-1. What holds for every input:
 * <ul>
 *   <li>nothing escapes: any value is ignored, unsatisfiable, or ranges (its refusal is IGNORE, never an exception);</li>
 *   <li>ranges are 1 to {@link ByteRanges#MAX_RANGES}, each non-empty and inside [0, length), none overlapping or
 *   adjacent to another, so their total never exceeds the length (an answer is never larger than the body plus
 *   part headers);</li>
 *   <li>the same value read twice gives the same answer.</li>
 * </ul>
 */
class RangeFuzzTest {
    private static final int PARAMS = 8;

    @FuzzTest
    void parse(byte[] input) {
        FuzzInput in = new FuzzInput(input, PARAMS);
        long raw = 0;
        for (int i = 0; i < PARAMS; i++) {
            raw = raw << 8 | in.param(i);
        }
        // small lengths are where the edges are: most inputs get one under 64 KiB, some any length
        long length = (raw & 0x8000_0000_0000_0000L) != 0 ? raw & Long.MAX_VALUE : raw & 0xffff;
        String value = new String(in.message, StandardCharsets.ISO_8859_1);
        ByteRanges r = ByteRanges.parse(value, length);
        assertEquals(r.toString(), ByteRanges.parse(value, length).toString(), "deterministic");
        if (r.kind() != ByteRanges.Kind.RANGES) {
            assertEquals(0, r.count());
            return;
        }
        int n = r.count();
        assertTrue(n >= 1 && n <= ByteRanges.MAX_RANGES, () -> n + " ranges for " + FuzzInput.show(in.message));
        long[][] sorted = new long[n][];
        long total = 0;
        for (int i = 0; i < n; i++) {
            long s = r.start(i);
            long e = r.end(i);
            assertTrue(0 <= s && s < e && e <= length, () -> "out of bounds: " + r + " of " + length);
            sorted[i] = new long[] {s, e};
            total += e - s;
        }
        Arrays.sort(sorted, (a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < n; i++) {
            long[] prev = sorted[i - 1];
            long[] cur = sorted[i];
            assertTrue(cur[0] > prev[1], () -> "overlapping or adjacent: " + r);
        }
        assertTrue(total <= length && total == r.total(), () -> "total over the length: " + r + " of " + length);
    }
}
