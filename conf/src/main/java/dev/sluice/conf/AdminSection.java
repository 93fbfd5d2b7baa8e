package dev.sluice.conf;

import dev.sluice.conf.SluiceConfig.AdminConfig;
import dev.sluice.conf.SluiceConfig.HostPort;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads {@code sluice.admin}: the admin listener and the token that guards it. */
final class AdminSection {
    private AdminSection() {}

    /**
     * The admin listener, its token read from admin.token or admin.token-file (never both; a file that cannot be
     * read or is empty is an error), and the rule that only a loopback address may go without a token. Messages
     * never carry the token.
     */
    static AdminConfig read(TypedReader r) {
        boolean enabled = r.bool("admin.enabled");
        HostPort address = r.hostPort("admin.address");
        int loops = r.intAtLeast("admin.event-loops", 1);
        String inline = r.string("admin.token");
        String file = r.string("admin.token-file");
        String token = "";
        if (inline != null && file != null && !inline.isEmpty() && !file.isEmpty()) {
            r.problem("admin.token-file", "set admin.token or admin.token-file, not both");
        } else if (inline != null && !inline.isEmpty()) {
            token = inline.strip();
            if (!validToken(token)) {
                r.problem("admin.token", "the token must be printable ASCII without spaces (it is sent in a header)");
                token = "";
            }
        } else if (file != null && !file.isEmpty()) {
            try {
                token = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
                if (token.isEmpty()) {
                    r.problem("admin.token-file", file + " is empty");
                } else if (!validToken(token)) {
                    r.problem("admin.token-file", file + ": the token must be printable ASCII without spaces (it is"
                            + " sent in a header)");
                    token = "";
                }
            } catch (IOException | RuntimeException e) {
                r.problem("admin.token-file", "cannot read " + file + ": " + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : " " + e.getMessage()));
            }
        }
        if (enabled && address != null && token.isEmpty() && !loopback(address.host())) {
            r.problem("admin.address", "the admin listener on a non-loopback address (" + address + ") needs a token:"
                    + " set admin.token-file (or admin.token), or bind it to 127.0.0.1");
        }
        return new AdminConfig(enabled, address, loops, token);
    }

    private static boolean validToken(String t) {
        return t.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f);
    }

    /** Whether {@code host} names only loopback addresses (a name that does not resolve does not). */
    private static boolean loopback(String host) {
        try {
            java.net.InetAddress[] all = java.net.InetAddress.getAllByName(host);
            for (java.net.InetAddress a : all) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return all.length > 0;
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
}
