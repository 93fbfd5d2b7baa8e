package dev.sluice.admin;

import java.util.List;

/**
 * What {@code POST /config/reload} needs from the running proxy, which implements it (admin never depends on proxy):
 * re-read the file Sluice was started with, validate it, and apply what can change while running. Called on the
 * admin's event loop (and by the SIGHUP handler on its own thread); implementations serialize reloads.
 */
public interface ConfigReload {
    /** @param trigger who asked, for the log line ("admin API", "SIGHUP") */
    Outcome reload(String trigger);

    /** How a reload ended. */
    sealed interface Outcome {}

    /**
     * The file was valid: {@code applied} lists what changed and is now in effect (exchanges already running finish on
     * the configuration they started with), {@code restartRequired} what changed but takes a restart and was left as it
     * was. Both empty: the file changed nothing.
     *
     * @param generation the configuration generation in effect now (1 at start, +1 per reload that applied a change)
     */
    record Applied(String file, long generation, List<String> applied, List<String> restartRequired)
            implements Outcome {
        public Applied {
            applied = List.copyOf(applied);
            restartRequired = List.copyOf(restartRequired);
        }
    }

    /** The file could not be used (each problem file:line: key: what); nothing changed. */
    record Invalid(String file, List<String> problems) implements Outcome {
        public Invalid {
            problems = List.copyOf(problems);
        }
    }

    /** There is nothing to reload from (the built-in demo runs from no file); nothing changed. */
    record NoFile(String why) implements Outcome {}
}
