package dev.sluice.admin.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin stats}: GET /cache/stats. */
@Command(name = "stats", mixinStandardHelpOptions = true, description = "The cache's entries, memory, hit ratio and fills.")
final class StatsCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Override
    public Integer call() {
        return admin.run(out -> {
            Map<String, Object> r = admin.call("GET", "/cache/stats", null);
            if (admin.json) {
                return;
            }
            out.println("entries            " + r.get("entries"));
            out.println("memory             " + AdminCommand.bytes(r.get("bytes")) + " of "
                    + AdminCommand.bytes(r.get("budget")));
            out.println("hit ratio          " + r.get("hit_ratio") + "  " + r.get("lookups"));
            out.println("evictions          " + r.get("evictions") + " (" + AdminCommand.bytes(r.get("evicted_bytes")) + ")");
            out.println("fills in progress  " + r.get("fills_in_progress"));
        });
    }
}
