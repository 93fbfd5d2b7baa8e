package dev.sluice.admin.cli;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code sluice admin reload}: POST /config/reload. Prints what changed and is in effect now, and what changed but
 * takes a restart; an invalid file exits 1 with each problem (file:line: key: what) on stderr, nothing changed.
 */
@Command(name = "reload", mixinStandardHelpOptions = true,
        description = "Re-reads the file Sluice was started with and applies routes, upstream groups, timeouts and"
                + " limits without dropping a connection; prints what changed and what needs a restart.")
final class ReloadCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Override
    public Integer call() {
        return admin.run(out -> {
            Map<String, Object> r = admin.call("POST", "/config/reload", null);
            if (admin.json) {
                return;
            }
            List<?> changed = (List<?>) r.get("changed");
            List<?> restart = (List<?>) r.get("restart_required");
            if (changed.isEmpty()) {
                out.println("reloaded " + r.get("file") + ": nothing to apply (generation " + r.get("generation") + ")");
            } else {
                out.println("reloaded " + r.get("file") + ": generation " + r.get("generation") + " applied");
                changed.forEach(c -> out.println("  changed  " + c));
            }
            restart.forEach(c -> out.println("  restart  " + c + "  (needs a restart, not applied)"));
        });
    }
}
