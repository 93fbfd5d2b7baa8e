package dev.sluice.admin.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin purge URL|--prefix P|--tag T [--soft]}: POST /cache/purge. */
@Command(name = "purge", mixinStandardHelpOptions = true,
        description = "Removes cached entries (every Vary variant) by URL, URL prefix or tag; --soft marks them stale.")
final class PurgeCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    static final class Target {
        @Parameters(paramLabel = "URL", description = "e.g. http://127.0.0.1:8080/objects/a.bin")
        String url;

        @Option(names = "--prefix", paramLabel = "URL", description = "every key starting with this URL")
        String prefix;

        @Option(names = "--tag", paramLabel = "TAG", description = "entries whose tag header lists TAG")
        String tag;
    }

    @Option(names = "--soft", description = "mark stale instead of removing (revalidation and stale-if-error apply)")
    boolean soft;

    @Override
    public Integer call() {
        return admin.run(out -> {
            Map<String, Object> body = target.url != null ? AdminCommand.map("url", target.url)
                    : target.prefix != null ? AdminCommand.map("prefix", target.prefix) : AdminCommand.map("tag", target.tag);
            if (soft) {
                body.put("soft", true);
            }
            Map<String, Object> r = admin.call("POST", "/cache/purge", body);
            if (!admin.json) {
                out.println((soft ? "marked stale " : "purged ") + r.get("entries") + " entries ("
                        + AdminCommand.bytes(r.get("bytes")) + ")");
            }
        });
    }
}
