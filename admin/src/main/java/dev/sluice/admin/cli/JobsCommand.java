package dev.sluice.admin.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin jobs [ID]}: GET /jobs, or GET /jobs/ID with its last errors. */
@Command(name = "jobs", mixinStandardHelpOptions = true,
        description = "Lists the warm jobs (running, and finished ones still kept), or shows one with its errors.")
final class JobsCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Parameters(paramLabel = "ID", arity = "0..1", description = "the job to show")
    String id;

    @Override
    public Integer call() {
        return admin.run(out -> {
            if (id != null) {
                Map<String, Object> job = admin.call("GET", "/jobs/" + AdminCommand.enc(id), null);
                if (!admin.json) {
                    WarmProgress.printJob(out, job);
                }
                return;
            }
            Map<String, Object> r = admin.call("GET", "/jobs", null);
            if (admin.json) {
                return;
            }
            var jobs = AdminCommand.list(r.get("jobs"));
            if (jobs.isEmpty()) {
                out.println("no warm jobs");
            }
            for (Map<String, Object> j : jobs) {
                out.println(j.get("id") + "  " + j.get("state") + "  " + WarmProgress.summary(j));
            }
        });
    }
}
