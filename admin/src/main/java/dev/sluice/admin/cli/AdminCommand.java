package dev.sluice.admin.cli;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code sluice admin}: the cache API from a shell. The admin address and token come from flags, or from a Sluice
 * configuration file ({@code --config}: its {@code admin.address} and token), or else the default address
 * (127.0.0.1:9901, the demo's), so it works against {@code bin/sluice}'s demo as it is. Output is for people;
 * {@code --json} prints the API's reply as it came. Exit status: 0 done, 1 the API refused or could not be reached,
 * 2 bad usage.
 *
 * <p>The {@code sluice admin} subcommand (listed in proxy's {@code Main}); {@link #main} also runs it alone.
 */
@Command(name = "admin", mixinStandardHelpOptions = true, subcommands = {WarmCommand.class, JobsCommand.class,
        CancelCommand.class, PurgeCommand.class, InspectCommand.class, EntriesCommand.class, StatsCommand.class,
        ReloadCommand.class},
        description = "Talks to a running Sluice's admin API: warm, purge, inspect, list and count what the cache"
                + " holds; reload the configuration.")
public final class AdminCommand implements Callable<Integer> {
    /** The default admin address (reference.conf's, which the built-in demo keeps). */
    public static final String DEFAULT_ADDRESS = "127.0.0.1:9901";

    @Option(names = "--admin", scope = ScopeType.INHERIT, paramLabel = "HOST:PORT",
            description = "admin listener address (default: from --config, else " + DEFAULT_ADDRESS + ")")
    String address;

    @Option(names = "--token-file", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "file holding the admin bearer token (default: from --config, else none)")
    Path tokenFile;

    @Option(names = "--config", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "Sluice configuration to take the admin address and token from")
    Path config;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print the API's JSON reply as it is")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** Runs {@code args} with output to {@code out} and errors to {@code err}; returns the exit status. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new AdminCommand()).setOut(out).setErr(err);
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AdminCommand()).execute(args));
    }

    /** The API refused a request, or could not be reached: the message for the operator. */
    static final class Failure extends Exception {
        Failure(String message) {
            super(message, null, false, false);
        }
    }

    /** One call of the API: its JSON reply, or a Failure saying why not. */
    Map<String, Object> call(String method, String pathAndQuery, Map<String, Object> body) throws Failure {
        try {
            return call(method, pathAndQuery, body == null ? null : HttpRequest.BodyPublishers.ofString(
                    JSON.std.asString(body)), "application/json", Duration.ofSeconds(60));
        } catch (IOException e) {
            throw new Failure("cannot write the request: " + e);
        }
    }

    /**
     * One call with a body of any kind ({@code body} null: none), waiting up to {@code timeout} for the reply; any
     * 2xx is success.
     */
    Map<String, Object> call(String method, String pathAndQuery, HttpRequest.BodyPublisher body, String type,
            Duration timeout) throws Failure {
        String addr = address;
        String token = null;
        if (config != null) {
            SluiceConfig c;
            try {
                c = ConfigLoader.load(config);
            } catch (RuntimeException e) {
                throw new Failure(e.getMessage());
            }
            if (addr == null) {
                String host = c.admin().address().host();
                host = host.equals("0.0.0.0") ? "127.0.0.1" : host.equals("::") ? "::1" : host;
                addr = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + c.admin().address().port();
            }
            token = c.admin().token().isEmpty() ? null : c.admin().token();
        }
        if (tokenFile != null) {
            try {
                token = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new Failure("cannot read the token file " + tokenFile + ": " + e);
            }
        }
        if (addr == null) {
            addr = DEFAULT_ADDRESS;
        }
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + addr + pathAndQuery))
                    .timeout(timeout)
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : body);
            if (body != null) {
                b.header("Content-Type", type);
            }
            if (token != null) {
                b.header("Authorization", "Bearer " + token);
            }
            HttpResponse<String> r;
            try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(5)).build()) {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            }
            Map<String, Object> reply;
            try {
                reply = JSON.std.mapFrom(r.body());
            } catch (IOException e) {
                throw new Failure("HTTP " + r.statusCode() + " from " + addr + ", not JSON: " + r.body().strip());
            }
            if (json) {
                spec.commandLine().getOut().println(r.body().strip());
            }
            if (r.statusCode() / 100 != 2) {
                StringBuilder why = new StringBuilder(reply.get("error") + " (HTTP " + r.statusCode() + ")");
                if (reply.get("problems") instanceof List<?> problems) { // an invalid configuration: file:line each
                    problems.forEach(p -> why.append(System.lineSeparator()).append("  ").append(p));
                }
                throw new Failure(why.toString());
            }
            return reply;
        } catch (IOException e) {
            throw new Failure("cannot reach the admin API at " + addr + ": " + e);
        } catch (IllegalArgumentException e) {
            throw new Failure("bad admin address '" + addr + "': " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted");
        }
    }

    /** Runs {@code body} for a subcommand: prints a failure to stderr and turns it into exit status 1. */
    int run(Action body) {
        try {
            body.run(spec.commandLine().getOut());
            return 0;
        } catch (Failure e) {
            spec.commandLine().getErr().println("sluice admin: " + e.getMessage());
            return 1;
        }
    }

    interface Action {
        void run(PrintWriter out) throws Failure;
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Bytes as people read them: 1536 -> "1.5 KiB". */
    static String bytes(Object n) {
        double v = ((Number) n).doubleValue();
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? (long) v + " B" : String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Object o) {
        return (List<Map<String, Object>>) o;
    }
}
