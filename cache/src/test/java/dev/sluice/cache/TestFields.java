package dev.sluice.cache;

import java.util.ArrayList;
import java.util.List;

/** Field lines for tests: {@code TestFields.of("Cache-Control", "max-age=1", "Date", "...")}. */
final class TestFields implements Fields {
    private final List<String[]> lines = new ArrayList<>();

    static TestFields of(String... nameValues) {
        TestFields f = new TestFields();
        for (int i = 0; i < nameValues.length; i += 2) {
            f.lines.add(new String[] {nameValues[i], nameValues[i + 1]});
        }
        return f;
    }

    @Override
    public String joined(String name) {
        String out = null;
        for (String[] l : lines) {
            if (l[0].equalsIgnoreCase(name)) {
                out = out == null ? l[1] : out + ", " + l[1];
            }
        }
        return out;
    }

    @Override
    public int count(String name) {
        return (int) lines.stream().filter(l -> l[0].equalsIgnoreCase(name)).count();
    }
}
