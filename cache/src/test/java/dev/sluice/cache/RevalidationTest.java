package dev.sluice.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** RFC 9111 4.3 and 3.2: what a revalidation sends, which 304 selects the stored response, and the updated head. */
class RevalidationTest {
    private static final long T = 1_796_000_000L;

    private static StoredResponse stored(String... nameValues) {
        List<String> names = new java.util.ArrayList<>();
        List<String> values = new java.util.ArrayList<>();
        for (int i = 0; i < nameValues.length; i += 2) {
            names.add(nameValues[i]);
            values.add(nameValues[i + 1]);
        }
        TestFields f = TestFields.of(nameValues);
        CacheControl cc = CacheControl.of(f);
        return new StoredResponse("h/a", "", List.of(), 200, "OK", names, values,
                Freshness.of(f, cc, 200, T, T, 0, 0, false), cc, null, 100, new AtomicLong());
    }

    @Test
    void conditionalFields_4_3_1_MUST_sendTheEntityTag_SHOULD_sendLastModified() {
        StoredResponse r = stored("ETag", "\"v1\"", "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
        var f = Revalidation.conditionalFields(r);
        assertEquals(2, f.size());
        assertEquals("If-None-Match", f.get(0)[0]);
        assertEquals("\"v1\"", f.get(0)[1]);
        assertEquals("If-Modified-Since", f.get(1)[0]);
        assertEquals("Sun, 06 Nov 1994 08:49:37 GMT", f.get(1)[1]);
        assertTrue(Revalidation.conditionalFields(stored("Content-Length", "100")).isEmpty());
        assertFalse(Revalidation.validatable(stored("Content-Length", "100")));
    }

    @ParameterizedTest(name = "4.3.4: stored [{0}], 304 [{1}] -> selects {2}")
    @CsvSource(delimiter = '|', value = {
            "ETag=\"v1\"      | ETag=\"v1\"           | true",
            "ETag=\"v1\"      | ETag=\"v2\"           | false",
            "ETag=\"v1\"      | ETag=W/\"v1\"         | true",
            "ETag=W/\"v1\"    | ETag=W/\"v1\"         | true",
            "ETag=W/\"v1\"    | ETag=W/\"v2\"         | false",
            "Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | ETag=\"v1\" | false",
            "Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | true",
            "Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | Last-Modified=Mon, 07 Nov 1994 08:49:37 GMT | false",
            "Last-Modified=Sun, 06 Nov 1994 08:49:37 GMT | Last-Modified=garbage | false",
            "ETag=\"v1\"      | Date=Sun, 06 Nov 1994 08:49:37 GMT | true",
            "ETag=\"v1\"      | ETag=\"v1\";Content-Length=100 | true",
            "ETag=\"v1\"      | ETag=\"v1\";Content-Length=101 | false"})
    void a304SelectsTheStoredResponse_onlyByItsValidators(String storedSpec, String spec304, boolean selects) {
        assertEquals(selects, Revalidation.selects(stored(split(storedSpec)), TestFields.of(split(spec304))));
    }

    @Test
    void updated_3_2_replacesTheFieldsThe304Carries_butNotContentLengthAgeOrCacheStatus() {
        StoredResponse r = stored("Content-Length", "100", "ETag", "\"v1\"", "Cache-Control", "max-age=10",
                "X-A", "1", "X-A", "2", "Date", "Sun, 06 Nov 1994 08:49:37 GMT");
        Revalidation.Head h = Revalidation.updated(r,
                List.of("Cache-Control", "Date", "Content-Length", "Age", "Cache-Status", "X-A", "X-B"),
                List.of("max-age=600", "Mon, 07 Nov 1994 08:49:37 GMT", "5", "30", "other; hit", "3", "b"));
        assertEquals("100", h.joined("Content-Length"));
        assertEquals("max-age=600", h.joined("Cache-Control"));
        assertEquals("Mon, 07 Nov 1994 08:49:37 GMT", h.joined("Date"));
        assertEquals("3", h.joined("X-A"), "both stored lines replaced by the 304's one");
        assertEquals("b", h.joined("X-B"), "a field the stored head lacked is added");
        assertEquals("\"v1\"", h.joined("ETag"));
        assertEquals(0, h.count("Age"));
        assertEquals(0, h.count("Cache-Status"));
    }

    private static String[] split(String spec) {
        List<String> nv = new java.util.ArrayList<>();
        for (String pair : spec.split(";(?=[A-Za-z-]+=)")) {
            int eq = pair.indexOf('=');
            nv.add(pair.substring(0, eq).trim());
            nv.add(pair.substring(eq + 1).trim());
        }
        return nv.toArray(new String[0]);
    }
}
