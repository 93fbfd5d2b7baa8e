package dev.sluice.conf;

import static dev.sluice.conf.ConfigLoader.ROOT;
import static dev.sluice.conf.TypedReader.at;
import static dev.sluice.conf.TypedReader.quote;

import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every key an operator writes must exist in reference.conf or its templates (listener-defaults, route-defaults,
 * upstream-defaults, server-defaults): an unknown key is a problem naming file:line and the full key, with the
 * nearest known key as a suggestion when one is close.
 */
final class UnknownKeys {
    private UnknownKeys() {}

    /** Adds a problem for every key of {@code user} that {@code reference} (or the template it names) lacks. */
    static void check(ConfigObject user, ConfigObject reference, List<String> problems) {
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            if (!e.getKey().equals(ROOT)) {
                problems.add(at(e.getValue().origin()) + e.getKey() + ": unknown top-level key (expected '" + ROOT + "')");
            }
        }
        ConfigValue root = user.get(ROOT);
        if (root instanceof ConfigObject sluice) {
            ConfigObject ref = (ConfigObject) reference.get(ROOT);
            checkObject(sluice, ref, ROOT, ref, problems);
        } else if (root != null) {
            problems.add(at(root.origin()) + ROOT + ": must be an object");
        }
    }

    private static void checkObject(ConfigObject user, ConfigObject template, String path, ConfigObject ref,
            List<String> problems) {
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            String key = path + "." + quote(e.getKey());
            ConfigValue value = e.getValue();
            if (!template.containsKey(e.getKey())) {
                problems.add(at(value.origin()) + key + ": unknown key" + suggestion(e.getKey(), template.keySet()));
                continue;
            }
            switch (key) {
                case "sluice.listeners" -> checkElements(value, (ConfigObject) ref.get("listener-defaults"), key, ref, problems);
                case "sluice.routes" -> checkElements(value, (ConfigObject) ref.get("route-defaults"), key, ref, problems);
                case "sluice.upstreams" -> {
                    if (value instanceof ConfigObject groups) {
                        for (Map.Entry<String, ConfigValue> g : groups.entrySet()) {
                            String gkey = key + "." + quote(g.getKey());
                            if (g.getValue() instanceof ConfigObject group) {
                                checkObject(group, (ConfigObject) ref.get("upstream-defaults"), gkey, ref, problems);
                            } else {
                                problems.add(at(g.getValue().origin()) + gkey + ": must be an object");
                            }
                        }
                    }
                }
                default -> {
                    if (key.endsWith(".servers") && path.startsWith("sluice.upstreams.")) {
                        checkElements(value, (ConfigObject) ref.get("server-defaults"), key, ref, problems);
                    } else if (key.matches("sluice\\.routes\\[\\d+]\\.header") && value instanceof ConfigObject h) {
                        checkObject(h, ConfigValueFactory.fromMap(Map.of("name", "", "value", "")), key, ref, problems);
                    } else if (value instanceof ConfigObject obj && template.get(e.getKey()) instanceof ConfigObject t) {
                        checkObject(obj, t, key, ref, problems);
                    }
                }
            }
        }
    }

    private static void checkElements(ConfigValue value, ConfigObject template, String path, ConfigObject ref,
            List<String> problems) {
        if (!(value instanceof ConfigList list)) {
            return; // wrong type: reported by the typed reader with its location
        }
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) instanceof ConfigObject obj) {
                checkObject(obj, template, path + "[" + i + "]", ref, problems);
            }
        }
    }

    private static String suggestion(String key, Set<String> known) {
        String best = null;
        int bestDistance = 3;
        for (String k : known) {
            if (k.endsWith("-defaults")) {
                continue;
            }
            int d = distance(key, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return best == null ? "" : " (did you mean '" + best + "'?)";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
