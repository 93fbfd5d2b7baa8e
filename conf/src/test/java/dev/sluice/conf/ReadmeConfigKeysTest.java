package dev.sluice.conf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's configuration reference names every key of reference.conf, and no other: an operator reads the README,
 * so a key added to reference.conf without a row there (or a row left behind by a removed key) fails the build.
 *
 * <p>The templates {@code listener-defaults}, {@code upstream-defaults}, {@code server-defaults} and
 * {@code route-defaults} are not settings of their own but the keys of each element of {@code listeners},
 * {@code upstreams}, a group's {@code servers} and {@code routes}; the README names them as {@code listeners[].KEY},
 * {@code upstreams.NAME.KEY}, {@code upstreams.NAME.servers[].KEY} and {@code routes[].KEY}. For keys whose default
 * is a scalar (or an empty list or object), the README's default column must also be that default.
 */
class ReadmeConfigKeysTest {
    private static final String SECTION = "## Configuration reference";
    private static final Map<String, String> TEMPLATES = Map.of(
            "listener-defaults", "listeners[]",
            "upstream-defaults", "upstreams.NAME",
            "server-defaults", "upstreams.NAME.servers[]",
            "route-defaults", "routes[]");
    /** A table row: the key in backticks in the first cell, the default in the second. */
    private static final Pattern ROW = Pattern.compile("^\\|\\s*`([^`]+)`\\s*\\|([^|]*)\\|");

    @Test
    void readmeTable_namesEveryKeyOfReferenceConf_andNoOther() throws IOException {
        Map<String, ConfigValue> expected = referenceKeys();
        Map<String, String> documented = readmeRows();

        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        missing.removeAll(documented.keySet());
        TreeSet<String> unknown = new TreeSet<>(documented.keySet());
        unknown.removeAll(expected.keySet());
        assertTrue(missing.isEmpty() && unknown.isEmpty(),
                "README.md '" + SECTION + "' and reference.conf differ.\n  keys of reference.conf missing from the"
                        + " README's table: " + missing + "\n  keys in the README's table that reference.conf does"
                        + " not have: " + unknown);
    }

    @Test
    void readmeTable_showsEachScalarDefaultAsReferenceConfHasIt() throws IOException {
        Map<String, ConfigValue> expected = referenceKeys();
        Map<String, String> documented = readmeRows();
        List<String> wrong = new ArrayList<>();
        expected.forEach((key, value) -> {
            String shown = documented.get(key);
            String want = plain(value);
            if (shown != null && want != null && !shown.equals(want)) {
                wrong.add(key + ": README says " + shown + ", reference.conf " + want);
            }
        });
        assertEquals(List.of(), wrong, "defaults in README.md '" + SECTION + "' that differ from reference.conf");
    }

    /** Every leaf key under {@code sluice} in reference.conf, with templates renamed to the elements they shape. */
    static Map<String, ConfigValue> referenceKeys() {
        Path file = Path.of("src/main/resources/reference.conf").toAbsolutePath();
        assertTrue(Files.isRegularFile(file), "reference.conf not found at " + file + " (run from the conf module)");
        ConfigObject root = ConfigFactory.parseFile(file.toFile(),
                ConfigParseOptions.defaults().setAllowMissing(false)).root();
        ConfigObject sluice = (ConfigObject) root.get("sluice");
        Map<String, ConfigValue> keys = new LinkedHashMap<>();
        sluice.forEach((k, v) -> collect(TEMPLATES.getOrDefault(k, k), v, keys));
        return keys;
    }

    private static void collect(String key, ConfigValue value, Map<String, ConfigValue> into) {
        if (value instanceof ConfigObject obj && !obj.isEmpty()) {
            obj.forEach((k, v) -> collect(key + "." + k, v, into));
        } else {
            into.put(key, value);
        }
    }

    /** The README's configuration reference as key to default cell (backticks and spaces removed). */
    static Map<String, String> readmeRows() throws IOException {
        Path readme = Path.of("../README.md").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(readme), "README.md not found at " + readme + " (run from the conf module)");
        List<String> lines = Files.readAllLines(readme);
        int start = lines.indexOf(SECTION);
        assertTrue(start >= 0, "README.md has no line '" + SECTION + "'");
        Map<String, String> rows = new LinkedHashMap<>();
        for (int i = start + 1; i < lines.size() && !lines.get(i).startsWith("## "); i++) {
            Matcher m = ROW.matcher(lines.get(i));
            if (m.find()) {
                String previous = rows.put(m.group(1).trim(), m.group(2).replace("`", "").trim());
                assertTrue(previous == null, "README.md names " + m.group(1) + " twice in '" + SECTION + "'");
            }
        }
        return rows;
    }

    /** How the README writes a default: strings bare ({@code ""} when empty), empty lists and objects as such. */
    private static String plain(ConfigValue v) {
        return switch (v.valueType()) {
            case STRING -> ((String) v.unwrapped()).isEmpty() ? "\"\"" : (String) v.unwrapped();
            case NUMBER, BOOLEAN -> String.valueOf(v.unwrapped());
            case NULL -> "null";
            case LIST -> ((ConfigList) v).isEmpty() ? "[]" : null;
            case OBJECT -> ((ConfigObject) v).isEmpty() ? "{}" : null;
        };
    }

    @Test
    void templates_areRenamedToTheirElements() {
        Map<String, ConfigValue> keys = referenceKeys();
        assertTrue(keys.containsKey("listeners[].tcp-congestion"), keys.keySet().toString());
        assertTrue(keys.containsKey("upstreams.NAME.pool.max-idle"), keys.keySet().toString());
        assertTrue(keys.containsKey("upstreams.NAME.servers[].weight"), keys.keySet().toString());
        assertTrue(keys.containsKey("routes[].cache.key.query"), keys.keySet().toString());
        assertTrue(keys.containsKey("routes[].header"), "a null default is a key too");
        assertEquals(ConfigValueType.NULL, keys.get("routes[].header").valueType());
        assertTrue(keys.keySet().stream().noneMatch(k -> k.contains("-defaults")), keys.keySet().toString());
    }
}
