package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HttpDateTest {
    private static final long NOW = 1_796_000_000L; // 2026-11-30

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "Sun, 06 Nov 1994 08:49:37 GMT    | 784111777",
            "Sunday, 06-Nov-94 08:49:37 GMT   | 784111777",
            "Sun Nov  6 08:49:37 1994         | 784111777",
            "Thu, 01 Jan 1970 00:00:00 GMT    | 0",
            // invalid: what RFC 9111 5.3 reads as already expired
            "0                                | " + Long.MIN_VALUE,
            "-1                               | " + Long.MIN_VALUE,
            "Mon, 06 Nov 1994 08:49:37 GMT    | " + Long.MIN_VALUE, // wrong day name
            "Sun, 6 Nov 1994 08:49:37 GMT     | " + Long.MIN_VALUE,
            "Sun, 06 Nov 1994 08:49:37 UTC    | " + Long.MIN_VALUE,
            "Sun, 06 Nov 1994 25:49:37 GMT    | " + Long.MIN_VALUE,
            "tomorrow                         | " + Long.MIN_VALUE})
    void parse(String value, long expected) {
        assertEquals(expected, HttpDate.parse(value, NOW));
    }

    @org.junit.jupiter.api.Test
    void format_roundTrips() {
        assertEquals("Sun, 06 Nov 1994 08:49:37 GMT", HttpDate.format(784111777));
        assertEquals(NOW, HttpDate.parse(HttpDate.format(NOW), NOW));
    }
}
