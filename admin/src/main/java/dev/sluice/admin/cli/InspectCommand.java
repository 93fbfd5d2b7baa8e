package dev.sluice.admin.cli;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code sluice admin inspect URL}: GET /cache/entry. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Shows what the cache holds for a URL: each variant's status, size, age, TTL, hits, validators, headers.")
final class InspectCommand implements Callable<Integer> {
    @ParentCommand
    AdminCommand admin;

    @Parameters(paramLabel = "URL", description = "e.g. http://127.0.0.1:8080/objects/a.bin")
    String url;

    @Override
    public Integer call() {
        return admin.run(out -> {
            Map<String, Object> r = admin.call("GET", "/cache/entry?url=" + AdminCommand.enc(url), null);
            if (admin.json) {
                return;
            }
            for (Map<String, Object> k : AdminCommand.list(r.get("keys"))) {
                out.println("key " + k.get("key") + " (route " + k.get("route") + ")");
                for (Map<String, Object> v : AdminCommand.list(k.get("variants"))) {
                    out.println("  variant" + (((List<?>) v.get("vary")).isEmpty() ? "" : " vary " + v.get("vary")
                            + " " + String.valueOf(v.get("secondary")).strip().replace('\n', ' ')));
                    out.println("    status " + v.get("status") + ", " + AdminCommand.bytes(v.get("size")) + ", age "
                            + v.get("age") + "s, ttl " + v.get("ttl") + "s (" + v.get("freshness_source") + "), "
                            + v.get("hits") + " hits");
                    out.println("    etag " + v.get("etag") + ", last-modified " + v.get("last_modified") + ", tags "
                            + v.get("tags"));
                    out.println("    store of loop " + v.get("store") + ", sent by cache.send = " + v.get("send"));
                    for (Object h : (List<?>) v.get("headers")) {
                        List<?> nv = (List<?>) h;
                        out.println("    | " + nv.get(0) + ": " + nv.get(1));
                    }
                }
            }
        });
    }
}
