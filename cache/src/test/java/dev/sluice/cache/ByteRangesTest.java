package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 9110 14.1.1, 14.1.2 and 14.2, one row per rule: a Range value against a length, and what is sent. */
class ByteRangesTest {

    /** Rows: Range value | length | expected ({@link ByteRanges#toString}: kind, then inclusive first-last pairs). */
    @ParameterizedTest(name = "[{0}] of {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            // 14.1.2: the three forms of a single range
            "bytes=0-99            | 1000 | RANGES 0-99",
            "bytes=100-            | 1000 | RANGES 100-999",
            "bytes=-100            | 1000 | RANGES 900-999",
            "bytes=-5000           | 1000 | RANGES 0-999",
            // 14.1.1: a last-pos past the end is clamped; a first-pos at or past the end is unsatisfiable
            "bytes=900-5000        | 1000 | RANGES 900-999",
            "bytes=999-999         | 1000 | RANGES 999-999",
            "bytes=1000-           | 1000 | UNSATISFIABLE",
            "bytes=1000-2000       | 1000 | UNSATISFIABLE",
            "bytes=-0              | 1000 | UNSATISFIABLE",
            "bytes=5000-,-0        | 1000 | UNSATISFIABLE",
            // unsatisfiable specs among satisfiable ones are dropped
            "bytes=5000-,0-9       | 1000 | RANGES 0-9",
            // 14.1.1: last-pos below first-pos makes the whole field invalid: ignored
            "bytes=5-1             | 1000 | IGNORE",
            "bytes=0-9,5-1         | 1000 | IGNORE",
            // 14.2: other units and syntax errors are ignored
            "items=0-1             | 1000 | IGNORE",
            "bytes 0-1             | 1000 | IGNORE",
            "bytes=                | 1000 | IGNORE",
            "bytes=-               | 1000 | IGNORE",
            "bytes=a-b             | 1000 | IGNORE",
            "bytes=0-1-2           | 1000 | IGNORE",
            "bytes=0 -1            | 1000 | IGNORE",
            "bytes=+1-2            | 1000 | IGNORE",
            "bytes = 0-1           | 1000 | IGNORE",
            "bytes=0-1, bytes=3-4  | 1000 | IGNORE",
            // the unit is case-insensitive; OWS around list commas, empty elements skipped (5.6.1)
            "Bytes=0-1             | 1000 | RANGES 0-1",
            "BYTES=0-1             | 1000 | RANGES 0-1",
            "'  bytes=0-1 ,\t 3-4  ' | 1000 | RANGES 0-1,3-4",
            "'bytes=0-1,,3-4,'     | 1000 | RANGES 0-1,3-4",
            // several ranges: the request's order kept when none merge (15.3.7.2)
            "bytes=500-599,0-99    | 1000 | RANGES 500-599,0-99",
            // 14.2: overlapping and adjacent ranges coalesced (then ascending)
            "bytes=0-99,50-149     | 1000 | RANGES 0-149",
            "bytes=100-199,0-99    | 1000 | RANGES 0-199",
            "bytes=0-9,-10,5-      | 1000 | RANGES 0-999",
            "bytes=0-0,0-0,0-0     | 1000 | RANGES 0-0",
            // saturating numbers: huge positions are past any body
            "bytes=0-99999999999999999999999 | 1000 | RANGES 0-999",
            "bytes=99999999999999999999999-  | 1000 | UNSATISFIABLE",
            "bytes=-99999999999999999999999  | 1000 | RANGES 0-999",
            // a zero-length representation has no range a Content-Range can name: ignored
            "bytes=0-              | 0    | IGNORE"})
    void parse(String value, long length, String expected) {
        assertEquals(expected, ByteRanges.parse(value, length).toString());
    }

    @Test
    void absentIsIgnored() {
        assertEquals(ByteRanges.Kind.IGNORE, ByteRanges.parse(null, 10).kind());
    }

    @Test
    void aThousandOverlappingRangesCoalesceIntoOne() {
        StringBuilder b = new StringBuilder("bytes=");
        for (int i = 0; i < 1000; i++) {
            b.append(i == 0 ? "" : ",").append(i).append('-').append(i + 100);
        }
        ByteRanges r = ByteRanges.parse(b.toString(), 100_000);
        assertEquals("RANGES 0-1099", r.toString());
        assertTrue(r.total() <= 100_000);
    }

    /** 14.2: many small disjoint ranges are a sign of abuse: more than MAX_RANGES and the whole body is sent. */
    @Test
    void moreThanTheCapOfDisjointRangesIsIgnored() {
        StringBuilder b = new StringBuilder("bytes=");
        for (int i = 0; i <= ByteRanges.MAX_RANGES; i++) {
            b.append(i == 0 ? "" : ",").append(i * 10).append('-').append(i * 10 + 1);
        }
        assertEquals(ByteRanges.Kind.IGNORE, ByteRanges.parse(b.toString(), 100_000).kind());
        String atCap = b.substring(0, b.lastIndexOf(","));
        assertEquals(ByteRanges.MAX_RANGES, ByteRanges.parse(atCap, 100_000).count());
    }
}
