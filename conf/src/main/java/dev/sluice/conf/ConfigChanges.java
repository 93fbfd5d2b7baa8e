package dev.sluice.conf;

import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * What a reload of the configuration file changes, one line per change ({@code "routes.objects.upstream: a -> b"}),
 * in two lists:
 * <ul>
 * <li>{@link #applied}: what a running Sluice takes over: routes (with their cache settings), upstream groups (servers,
 * balance, timeouts, pools), {@code timeouts} and {@code limits} but {@code limits.max-connections}. Compared with the
 * configuration in effect now (the last one applied).</li>
 * <li>{@link #restartRequired}: what is built once at start and stays as it is until a restart: listeners, event
 * loops and their scheduling, the transport, splice pipes, every {@code cache} setting (the memory is mapped at
 * start), the admin listener (token included), the access log, the demo, buffer leak detection and
 * {@code limits.max-connections}. Compared with the configuration Sluice started with, so that a change undone in the
 * file is no longer reported.</li>
 * </ul>
 * Names follow the file's keys ({@code path-prefix}, not {@code pathPrefix}); the admin token is never shown, only that
 * it changed.
 */
public record ConfigChanges(List<String> applied, List<String> restartRequired) {
    public ConfigChanges {
        applied = List.copyOf(applied);
        restartRequired = List.copyOf(restartRequired);
    }

    /**
     * @param started the configuration Sluice started with (what its listeners, loops and memory are built from)
     * @param current the configuration in effect now (the last file applied, or {@code started})
     * @param next    the file as read now, valid
     */
    public static ConfigChanges between(SluiceConfig started, SluiceConfig current, SluiceConfig next) {
        List<String> applied = new ArrayList<>();
        named("upstreams", current.upstreams(), next.upstreams(), applied);
        named("routes", byName(current.routes(), SluiceConfig.RouteConfig::name),
                byName(next.routes(), SluiceConfig.RouteConfig::name), applied);
        order("routes", current.routes().stream().map(SluiceConfig.RouteConfig::name).toList(),
                next.routes().stream().map(SluiceConfig.RouteConfig::name).toList(), applied);
        fields("timeouts", current.timeouts(), next.timeouts(), applied);
        fields("limits", withMaxConnections(current.limits(), 0), withMaxConnections(next.limits(), 0), applied);

        List<String> restart = new ArrayList<>();
        value("event-loops", started.eventLoops(), next.eventLoops(), restart);
        value("event-loop-scheduling", started.eventLoopScheduling(), next.eventLoopScheduling(), restart);
        value("transport", started.transport(), next.transport(), restart);
        named("listeners", byName(started.listeners(), SluiceConfig.ListenerConfig::name),
                byName(next.listeners(), SluiceConfig.ListenerConfig::name), restart);
        value("limits.max-connections", started.limits().maxConnections(), next.limits().maxConnections(), restart);
        fields("splice", started.splice(), next.splice(), restart);
        fields("cache", started.cache(), next.cache(), restart);
        fields("admin", started.admin(), next.admin(), restart);
        fields("access-log", started.accessLog(), next.accessLog(), restart);
        fields("demo", started.demo(), next.demo(), restart);
        value("buffer-leak-detection", started.bufferLeakDetection(), next.bufferLeakDetection(), restart);
        return new ConfigChanges(applied, restart);
    }

    /** Nothing changed, in either list. */
    public boolean none() {
        return applied.isEmpty() && restartRequired.isEmpty();
    }

    private static SluiceConfig.Limits withMaxConnections(SluiceConfig.Limits l, int max) {
        return new SluiceConfig.Limits(l.maxRequestTarget(), l.maxHeaderSize(), l.maxRequestBody(),
                l.maxResponseHeaderSize(), l.minRequestBodyRate(), max);
    }

    private static <T> Map<String, T> byName(List<T> list, Function<T, String> name) {
        Map<String, T> m = new LinkedHashMap<>();
        for (T t : list) {
            m.put(name.apply(t), t);
        }
        return m;
    }

    /** Entries by name: added, removed, and the fields of those in both that differ. */
    private static void named(String section, Map<String, ? extends Record> before, Map<String, ? extends Record> after,
            List<String> out) {
        for (String name : new TreeSet<>(before.keySet())) {
            if (!after.containsKey(name)) {
                out.add(section + ": removed " + name);
            }
        }
        for (String name : new TreeSet<>(after.keySet())) {
            if (!before.containsKey(name)) {
                out.add(section + ": added " + name);
            } else {
                fields(section + "." + name, before.get(name), after.get(name), out);
            }
        }
    }

    /** Routes are tried in order: the same routes in another order is a change of its own. */
    private static void order(String section, List<String> before, List<String> after, List<String> out) {
        List<String> kept = before.stream().filter(after::contains).toList();
        List<String> keptAfter = after.stream().filter(before::contains).toList();
        if (!kept.equals(keptAfter)) {
            out.add(section + ": order " + String.join(", ", kept) + " -> " + String.join(", ", keptAfter));
        }
    }

    /** Each component of two records of one type that differs, nested records component by component. */
    private static void fields(String path, Record a, Record b, List<String> out) {
        if (Objects.equals(a, b)) {
            return;
        }
        for (RecordComponent c : a.getClass().getRecordComponents()) {
            Object x = get(c, a);
            Object y = get(c, b);
            if (Objects.equals(x, y)) {
                continue;
            }
            String key = path + "." + KEYS.getOrDefault(c.getName(), kebab(c.getName()));
            if (key.equals("admin.token") || key.endsWith(".secret-key")) {
                out.add(key + ": changed"); // a secret: never in a reply or a log line
            } else if (x instanceof Record rx && y instanceof Record ry && !(x instanceof SluiceConfig.HostPort)
                    && !(x instanceof SluiceConfig.ServerConfig) && !(x instanceof SluiceConfig.QueryKey)) {
                fields(key, rx, ry, out);
            } else {
                value(key, x, y, out);
            }
        }
    }

    private static void value(String key, Object a, Object b, List<String> out) {
        if (!Objects.equals(a, b)) {
            out.add(key + ": " + show(a) + " -> " + show(b));
        }
    }

    private static Object get(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("a public record's accessor", e);
        }
    }

    /** A value as the file would write it: 30s, round-robin, 127.0.0.1:8080, [a, b]. */
    static String show(Object v) {
        return switch (v) {
            case null -> "none";
            case Duration d -> d.isZero() ? "0" : d.toMillis() % 1000 != 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
            case Enum<?> e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-');
            case SluiceConfig.ServerConfig s -> s.address() + (s.weight() == 1 ? "" : " weight " + s.weight());
            case SluiceConfig.HeaderMatch h -> h.name() + (h.value().isEmpty() ? "" : ": " + h.value());
            case SluiceConfig.QueryKey q -> q.mode() == SluiceConfig.QueryMode.ONLY ? show(q.names()) : show(q.mode());
            case String s -> s.isEmpty() ? "\"\"" : s;
            case List<?> l -> l.stream().map(ConfigChanges::show).toList().toString();
            default -> String.valueOf(v);
        };
    }

    /** Record components whose key in the file is not just their name in kebab case. */
    private static final Map<String, String> KEYS = Map.of("poolMaxIdle", "pool.max-idle",
            "poolIdleTimeout", "pool.idle-timeout", "query", "key.query");

    /** defaultTtl -> default-ttl. */
    private static String kebab(String camel) {
        StringBuilder b = new StringBuilder(camel.length() + 4);
        for (char ch : camel.toCharArray()) {
            if (Character.isUpperCase(ch)) {
                b.append('-').append(Character.toLowerCase(ch));
            } else {
                b.append(ch);
            }
        }
        return b.toString();
    }
}
