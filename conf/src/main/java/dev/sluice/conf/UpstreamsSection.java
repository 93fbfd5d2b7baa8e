package dev.sluice.conf;

import static dev.sluice.conf.TypedReader.at;
import static dev.sluice.conf.TypedReader.quote;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.sluice.conf.SluiceConfig.Balance;
import dev.sluice.conf.SluiceConfig.HostPort;
import dev.sluice.conf.SluiceConfig.S3Credentials;
import dev.sluice.conf.SluiceConfig.ServerConfig;
import dev.sluice.conf.SluiceConfig.Timeouts;
import dev.sluice.conf.SluiceConfig.UpstreamConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code sluice.upstreams}: each group's balance, servers (a "host:port" or an object with a weight), timeouts
 * (falling back to the global ones), pool and the s3 section that signs its requests.
 */
final class UpstreamsSection {
    private UpstreamsSection() {}

    /** {@code upstreams}: each group under upstream-defaults, its servers under server-defaults. */
    static Map<String, UpstreamConfig> read(TypedReader r, Timeouts timeouts) {
        Map<String, UpstreamConfig> out = new LinkedHashMap<>();
        ConfigObject groups = r.get("upstreams", r.c::getObject);
        if (groups == null) {
            return out;
        }
        Config defaults = r.c.getConfig("upstream-defaults");
        // by name: a HOCON object keeps no order, and the groups' order (and their problems') should not vary by run
        for (String name : new java.util.TreeSet<>(groups.keySet())) {
            String gpath = "upstreams." + quote(name);
            if (!(groups.get(name) instanceof ConfigObject obj)) {
                continue; // reported by the key checker
            }
            TypedReader g = r.child(obj.toConfig().withFallback(defaults), r.path + "." + gpath);
            Balance balance = g.enumOf("balance", Balance.class, Balance.ROUND_ROBIN);
            List<ServerConfig> servers = servers(g, r.c.getConfig("server-defaults"));
            if (servers.isEmpty()) {
                g.problem("servers", "an upstream group needs at least one server");
            }
            Duration connect = g.optionalDuration("connect-timeout", timeouts.connect());
            Duration response = g.optionalDuration("response-timeout", timeouts.upstreamResponse());
            out.put(name, new UpstreamConfig(name, balance, servers, connect, response,
                    g.intAtLeast("pool.max-idle", 0), g.positive("pool.idle-timeout"), g.congestion(), s3(g)));
        }
        return out;
    }

    /** The group's s3 section: null when all of it is "", else all three set and the secret file read. */
    private static S3Credentials s3(TypedReader g) {
        String region = g.string("s3.region");
        String access = g.string("s3.access-key");
        String file = g.string("s3.secret-key-file");
        Set<String> methods = methods(g, "s3.signed-methods");
        if (region == null || access == null || file == null) {
            return null; // reported
        }
        if (region.isEmpty() && access.isEmpty() && file.isEmpty()) {
            if (!methods.isEmpty()) {
                g.problem("s3.signed-methods", "signing needs region, access-key and secret-key-file");
            }
            return null;
        }
        if (region.isEmpty() || access.isEmpty() || file.isEmpty()) {
            g.problem("s3", "set all of region, access-key and secret-key-file, or none");
            return null;
        }
        if (!region.matches("[a-z0-9-]{1,64}")) {
            g.problem("s3.region", "a region is lowercase letters, digits and dashes, e.g. us-east-1");
            return null;
        }
        try {
            String secret = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
            if (secret.isEmpty()) {
                g.problem("s3.secret-key-file", file + " is empty");
                return null;
            }
            return new S3Credentials(region, access, secret, methods);
        } catch (java.io.IOException | RuntimeException e) {
            g.problem("s3.secret-key-file", "cannot read " + file + ": " + e.getClass().getSimpleName());
            return null;
        }
    }

    private static final String SIGNED_METHODS = "GET|HEAD|PUT|POST|DELETE|PATCH|OPTIONS";

    /** A list of request methods S3 signs (the signer knows these), each once. */
    private static Set<String> methods(TypedReader r, String key) {
        Set<String> seen = new LinkedHashSet<>();
        return new LinkedHashSet<>(r.list(key, v -> v.unwrapped() instanceof String m && m.matches(SIGNED_METHODS)
                && seen.add(m) ? m : null, "one of " + SIGNED_METHODS.replace("|", ", ") + ", each once"));
    }

    private static List<ServerConfig> servers(TypedReader g, Config defaults) {
        List<ServerConfig> out = new ArrayList<>();
        ConfigList list = g.get("servers", g.c::getList);
        if (list == null) {
            return out;
        }
        for (int i = 0; i < list.size(); i++) {
            ConfigValue v = list.get(i);
            String key = "servers[" + i + "]";
            if (v.valueType() == ConfigValueType.STRING) {
                HostPort hp = g.parseHostPort((String) v.unwrapped(), v.origin(), key);
                if (hp != null) {
                    out.add(new ServerConfig(hp, 1));
                }
            } else if (v instanceof ConfigObject obj) {
                TypedReader s = g.child(obj.toConfig().withFallback(defaults), g.path + "." + key);
                HostPort hp = s.hostPort("address");
                int weight = s.intAtLeast("weight", 1);
                if (hp != null) {
                    out.add(new ServerConfig(hp, weight));
                }
            } else {
                g.problems.add(at(v.origin()) + g.path + "." + key
                        + ": a server is \"host:port\" or { address = \"host:port\", weight = N }");
            }
        }
        return out;
    }
}
