package dev.sluice.conf;

import java.util.List;

/** A configuration that cannot be used; each problem names file:line and the key. */
public final class ConfigException extends RuntimeException {
    private final List<String> problems;

    ConfigException(List<String> problems) {
        super(String.join("\n", problems));
        this.problems = List.copyOf(problems);
    }

    /** One line per problem, each "file:line: key: what is wrong". */
    public List<String> problems() {
        return problems;
    }
}
