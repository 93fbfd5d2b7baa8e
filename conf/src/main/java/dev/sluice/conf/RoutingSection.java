package dev.sluice.conf;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import dev.sluice.conf.SluiceConfig.HeaderMatch;
import dev.sluice.conf.SluiceConfig.HostPort;
import dev.sluice.conf.SluiceConfig.ListenerConfig;
import dev.sluice.conf.SluiceConfig.ListenerMode;
import dev.sluice.conf.SluiceConfig.RouteConfig;
import dev.sluice.conf.SluiceConfig.UpstreamConfig;
import dev.sluice.conf.SluiceConfig.ZeroCopy;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads what serves a request: {@code sluice.listeners} and the {@code sluice.routes} bound to them, each checked
 * against the upstream groups and listeners it names.
 */
final class RoutingSection {
    private RoutingSection() {}

    /** {@code listeners}: each under listener-defaults, names and addresses each once, tcp ones naming a group. */
    static List<ListenerConfig> listeners(TypedReader sluice, Map<String, UpstreamConfig> upstreams) {
        List<ListenerConfig> out = new ArrayList<>();
        List<? extends ConfigObject> list = sluice.get("listeners", sluice.c::getObjectList);
        if (list == null) {
            return out;
        }
        if (list.isEmpty()) {
            sluice.problem("listeners", "at least one listener is needed");
        }
        Config defaults = sluice.c.getConfig("listener-defaults");
        Set<String> names = new HashSet<>();
        Set<HostPort> addresses = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            TypedReader l = sluice.child(list.get(i).toConfig().withFallback(defaults),
                    sluice.path + ".listeners[" + i + "]");
            String name = uniqueName(l, "listener", i, names);
            ListenerMode mode = l.enumOf("mode", ListenerMode.class, ListenerMode.HTTP);
            HostPort address = l.hostPort("address");
            if (address != null && address.port() != 0 && !addresses.add(address)) {
                l.problem("address", "another listener already uses " + address);
            }
            String upstream = l.string("upstream");
            if (mode == ListenerMode.TCP) {
                if (upstream == null || upstream.isEmpty()) {
                    l.problem("upstream", "a tcp listener needs an upstream group");
                } else if (!upstreams.containsKey(upstream)) {
                    l.problem("upstream", "no upstream group named '" + upstream + "'" + known(upstreams.keySet()));
                }
            } else if (upstream != null && !upstream.isEmpty()) {
                l.problem("upstream", "only tcp listeners name an upstream; http listeners use routes");
            }
            out.add(new ListenerConfig(name, mode, address, upstream, l.positive("idle-timeout"),
                    l.enumOf("zero-copy", ZeroCopy.class, ZeroCopy.AUTO), l.congestion()));
        }
        return out;
    }

    /** {@code routes}: each under route-defaults, naming a known http listener (or none) and a known group. */
    static List<RouteConfig> routes(TypedReader sluice, Map<String, UpstreamConfig> upstreams,
            List<ListenerConfig> listeners) {
        List<RouteConfig> out = new ArrayList<>();
        List<? extends ConfigObject> list = sluice.get("routes", sluice.c::getObjectList);
        if (list == null) {
            return out;
        }
        Config defaults = sluice.c.getConfig("route-defaults");
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            TypedReader r = sluice.child(list.get(i).toConfig().withFallback(defaults),
                    sluice.path + ".routes[" + i + "]");
            String name = uniqueName(r, "route", i, names);
            String listener = r.string("listener");
            if (listener != null && !listener.isEmpty()) {
                ListenerConfig l = listeners.stream().filter(x -> listener.equals(x.name())).findFirst().orElse(null);
                if (l == null) {
                    r.problem("listener", "no listener named '" + listener + "'");
                } else if (l.mode() != ListenerMode.HTTP) {
                    r.problem("listener", "listener '" + listener + "' is a tcp listener; routes apply to http listeners");
                }
            }
            String host = r.string("host");
            if (host != null) {
                host = host.toLowerCase(Locale.ROOT);
                if (!host.matches("(\\*\\.)?[a-z0-9.\\-\\[\\]:]*") || (host.startsWith("*.") && host.length() == 2)) {
                    r.problem("host", "host must be a name, or *.suffix for subdomains: '" + host + "'");
                }
            }
            String prefix = r.string("path-prefix");
            if (prefix != null && !prefix.startsWith("/")) {
                r.problem("path-prefix", "path-prefix must start with '/': '" + prefix + "'");
            }
            HeaderMatch header = null;
            if (r.c.hasPath("header")) {
                TypedReader h = r.child(r.get("header", r.c::getConfig), r.path + ".header");
                if (h.c != null) {
                    String hn = h.string("name");
                    String hv = h.c.hasPath("value") ? h.string("value") : "";
                    if (hn == null || !hn.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                        h.problem("name", "header name must be a token");
                    } else {
                        header = new HeaderMatch(hn, hv == null ? "" : hv);
                    }
                }
            }
            String upstream = r.string("upstream");
            if (upstream != null && upstream.isEmpty()) {
                r.problem("upstream", "a route needs an upstream group");
            } else if (upstream != null && !upstreams.containsKey(upstream)) {
                r.problem("upstream", "no upstream group named '" + upstream + "'" + known(upstreams.keySet()));
            }
            ZeroCopy zc = r.enumOf("zero-copy", ZeroCopy.class, ZeroCopy.AUTO);
            out.add(new RouteConfig(name, listener, host, prefix, header, upstream, zc, CacheSection.route(r)));
        }
        return out;
    }

    /**
     * An http listener that no route serves answers every request with 404: what an empty file, or a route
     * bound to the wrong listener, gives. That is refused unless {@code allow-no-routes} says it is meant.
     */
    static void checkEveryHttpListenerRouted(TypedReader sluice, List<ListenerConfig> listeners,
            List<RouteConfig> routes, String source) {
        Boolean allowed = sluice.get("allow-no-routes", sluice.c::getBoolean); // null: a wrong type, reported already
        if (allowed == null || allowed) {
            return;
        }
        for (ListenerConfig l : listeners) {
            if (l.mode() == ListenerMode.HTTP && l.name() != null && routes.stream()
                    .noneMatch(r -> r.listener() == null || r.listener().isEmpty() || r.listener().equals(l.name()))) {
                String what = "no route serves http listener '" + l.name() + "', so every request would get 404"
                        + " (set sluice.allow-no-routes = true if that is meant)";
                if ("reference.conf".equals(sluice.c.getValue("routes").origin().resource())) {
                    // the file has none: name the file
                    sluice.problems.add(source + ": " + sluice.path + ".routes: " + what);
                } else {
                    sluice.problem("routes", what);
                }
            }
        }
    }

    private static String known(Set<String> names) {
        return names.isEmpty() ? " (none are defined)" : " (defined: " + String.join(", ", names) + ")";
    }

    /** Element {@code i}'s name ("KIND-i" when ""), a problem when one before had it; null when unreadable. */
    private static String uniqueName(TypedReader e, String kind, int i, Set<String> names) {
        String name = e.string("name");
        if (name != null && name.isEmpty()) {
            name = kind + "-" + i;
        }
        if (name != null && !names.add(name)) {
            e.problem("name", "duplicate " + kind + " name '" + name + "'");
        }
        return name;
    }
}
