package dev.sluice.admin.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin cancel ID}: DELETE /jobs/ID. */
@Command(name = "cancel", mixinStandardHelpOptions = true,
        description = "Cancels a warm job: no more keys are fetched, the fetches in flight are closed.")
final class CancelCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Parameters(paramLabel = "ID", description = "the job")
    String id;

    @Override
    public Integer call() {
        return admin.run(out -> {
            Map<String, Object> job = admin.call("DELETE", "/jobs/" + AdminCommand.enc(id), null);
            if (!admin.json) {
                out.println("warm job " + job.get("id") + " " + job.get("state") + ": " + WarmProgress.summary(job));
            }
        });
    }
}
