package dev.sluice.conf;

import static dev.sluice.conf.TypedReader.at;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads HOCON into a {@link SluiceConfig}. Every problem found is collected and reported at once,
 * each naming file:line and the full key, so an operator fixes a file in one pass.
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
        SluiceConfig config = new TypedReader(merged.getConfig(ROOT), ROOT, problems).read(source);
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
}
