package dev.sluice.conf;

import static dev.sluice.conf.TypedReader.at;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueFactory;
import dev.sluice.conf.SluiceConfig.AccessLogConfig;
import dev.sluice.conf.SluiceConfig.AccessLogFormat;
import dev.sluice.conf.SluiceConfig.AdminConfig;
import dev.sluice.conf.SluiceConfig.BodyRate;
import dev.sluice.conf.SluiceConfig.CacheConfig;
import dev.sluice.conf.SluiceConfig.DemoConfig;
import dev.sluice.conf.SluiceConfig.LeakDetection;
import dev.sluice.conf.SluiceConfig.Limits;
import dev.sluice.conf.SluiceConfig.LoopScheduling;
import dev.sluice.conf.SluiceConfig.ListenerConfig;
import dev.sluice.conf.SluiceConfig.RouteConfig;
import dev.sluice.conf.SluiceConfig.SpliceConfig;
import dev.sluice.conf.SluiceConfig.Timeouts;
import dev.sluice.conf.SluiceConfig.Transport;
import dev.sluice.conf.SluiceConfig.UpstreamConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads HOCON into a {@link SluiceConfig}. Every problem found is collected and reported at once,
 * each naming file:line and the full key, so an operator fixes a file in one pass.
 *
 * <p>Keys reference.conf does not know are found by {@link UnknownKeys}; values are read through a
 * {@link TypedReader}, the sections by {@link UpstreamsSection}, {@link RoutingSection}, {@link CacheSection}
 * and {@link AdminSection}.
 */
public final class ConfigLoader {
    /** The configuration `sluice` runs when given no file: the demo origin behind one route. */
    public static final String DEMO_RESOURCE = "sluice-demo.conf";

    static final String ROOT = "sluice";

    private ConfigLoader() {}

    /** Loads and validates an operator's file. */
    public static SluiceConfig load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(List.of(file + ": no such file"));
        }
        Config user;
        try {
            user = ConfigFactory.parseFile(file.toFile(),
                    ConfigParseOptions.defaults().setAllowMissing(false).setSyntax(ConfigSyntax.CONF));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(List.of(describe(e)));
        }
        return build(user, file.toString(), Map.of());
    }

    /** Loads and validates HOCON text; {@code name} stands in for the file name in messages. */
    public static SluiceConfig parse(String hocon, String name) {
        return parse(hocon, name, Map.of());
    }

    /**
     * Like {@link #parse(String, String)} with overrides applied on top (keys are full paths such as
     * {@code sluice.upstreams.demo.servers}); the demo uses this to point its route at the origin's port.
     */
    public static SluiceConfig parse(String hocon, String name, Map<String, Object> overrides) {
        Config user;
        try {
            user = ConfigFactory.parseString(hocon,
                    ConfigParseOptions.defaults().setOriginDescription(name).setSyntax(ConfigSyntax.CONF));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(List.of(describe(e)));
        }
        return build(user, name, overrides);
    }

    /** The built-in demo configuration, with overrides (e.g. the demo origin's bound address). */
    public static SluiceConfig demo(Map<String, Object> overrides) {
        Config user = ConfigFactory.parseResources(ConfigLoader.class, "/" + DEMO_RESOURCE,
                ConfigParseOptions.defaults().setAllowMissing(false));
        return build(user, "built-in demo (" + DEMO_RESOURCE + ")", overrides);
    }

    private static SluiceConfig build(Config user, String source, Map<String, Object> overrides) {
        List<String> problems = new ArrayList<>();
        Config reference = ConfigFactory.parseResources(ConfigLoader.class, "/reference.conf");
        UnknownKeys.check(user.root(), reference.root(), problems);
        Config merged = user;
        for (Map.Entry<String, Object> o : overrides.entrySet()) {
            merged = merged.withValue(o.getKey(), ConfigValueFactory.fromAnyRef(o.getValue(), "override"));
        }
        try {
            merged = merged.withFallback(reference).resolve();
        } catch (com.typesafe.config.ConfigException e) {
            problems.add(describe(e));
            throw new ConfigException(problems);
        }
        SluiceConfig config = read(new TypedReader(merged.getConfig(ROOT), ROOT, problems), source);
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return config;
    }

    static String describe(com.typesafe.config.ConfigException e) {
        String msg = e.getMessage();
        if (e.origin() != null) {
            String desc = e.origin().description();
            if (msg.startsWith(desc + ": ")) {
                msg = msg.substring(desc.length() + 2);
            }
            return at(e.origin()) + msg;
        }
        return msg;
    }

    /**
     * All of {@code sluice}: the global settings read here, each section by its reader. Upstreams come first, since
     * listeners and routes name groups, and listeners before the routes bound to them.
     */
    private static SluiceConfig read(TypedReader r, String source) {
        int eventLoops = r.intAtLeast("event-loops", 0);
        LoopScheduling loopScheduling = r.enumOf("event-loop-scheduling", LoopScheduling.class, LoopScheduling.NORMAL);
        Transport transport = r.enumOf("transport", Transport.class, Transport.AUTO);
        Timeouts timeouts = new Timeouts(r.positive("timeouts.connect"), r.positive("timeouts.request-head"),
                r.positive("timeouts.idle"), r.positive("timeouts.upstream-response"));
        Limits limits = new Limits((int) r.bytes("limits.max-request-target", 64, Integer.MAX_VALUE),
                (int) r.bytes("limits.max-header-size", 256, Integer.MAX_VALUE),
                r.bytes("limits.max-request-body", 0, Long.MAX_VALUE),
                (int) r.bytes("limits.max-response-header-size", 256, Integer.MAX_VALUE),
                new BodyRate(r.bytes("limits.min-request-body-rate.bytes-per-second", 0, 1L << 40),
                        r.positive("limits.min-request-body-rate.window")),
                r.intAtLeast("limits.max-connections", 0));

        Map<String, UpstreamConfig> upstreams = UpstreamsSection.read(r, timeouts);
        List<ListenerConfig> listeners = RoutingSection.listeners(r, upstreams);
        List<RouteConfig> routes = RoutingSection.routes(r, upstreams, listeners);
        RoutingSection.checkEveryHttpListenerRouted(r, listeners, routes, source);

        SpliceConfig splice = new SpliceConfig(r.intAtLeast("splice.max-pipes", 1),
                (int) r.bytes("splice.pipe-size", 4096, 1 << 30), r.bytes("splice.min-bytes", 0, Long.MAX_VALUE),
                (int) r.bytes("splice.batch-max", 0, 64 << 20), r.upTo("splice.batch-delay", Duration.ofSeconds(1)));
        CacheConfig cache = CacheSection.read(r);
        AdminConfig admin = AdminSection.read(r);
        AccessLogConfig accessLog = new AccessLogConfig(r.bool("access-log.enabled"),
                r.enumOf("access-log.format", AccessLogFormat.class, AccessLogFormat.JSON),
                r.string("access-log.target"));
        DemoConfig demo = new DemoConfig(r.bool("demo.enabled"), r.hostPort("demo.origin-address"));
        LeakDetection leaks = r.enumOf("buffer-leak-detection", LeakDetection.class, LeakDetection.DISABLED);
        return new SluiceConfig(source, eventLoops, loopScheduling, transport, listeners, upstreams, routes, timeouts,
                limits, splice, cache, admin, accessLog, demo, leaks);
    }
}
