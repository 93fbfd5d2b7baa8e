package dev.sluice.admin.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin entries [--prefix P] [--limit N] [--after KEY]}: GET /cache/entries. */
@Command(name = "entries", mixinStandardHelpOptions = true, description = "Lists cached keys in key order, a page at a time.")
final class EntriesCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Option(names = "--prefix", paramLabel = "URL", description = "only keys starting with this URL")
    String prefix;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "keys per page, 1..1000 (default 100)")
    int limit;

    @Option(names = "--after", paramLabel = "KEY", description = "the page after this key (the previous page's next)")
    String after;

    @Override
    public Integer call() {
        return admin.run(out -> {
            StringBuilder q = new StringBuilder("/cache/entries?limit=" + limit);
            if (prefix != null) {
                q.append("&prefix=").append(AdminCommand.enc(prefix));
            }
            if (after != null) {
                q.append("&after=").append(AdminCommand.enc(after));
            }
            Map<String, Object> r = admin.call("GET", q.toString(), null);
            if (admin.json) {
                return;
            }
            for (Map<String, Object> e : AdminCommand.list(r.get("entries"))) {
                out.printf("%-10s %3s %8ss %6s hits  %s%n", AdminCommand.bytes(e.get("bytes")), e.get("status"),
                        e.get("ttl"), e.get("hits"), e.get("key"));
            }
            if (r.get("next") != null) {
                out.println("more: --after '" + r.get("next") + "'");
            }
        });
    }
}
