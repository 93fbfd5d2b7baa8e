package dev.sluice.conf;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.sluice.conf.SluiceConfig.HostPort;
import dev.sluice.conf.SluiceConfig.Transport;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Typed reading of one object of the configuration (all of {@code sluice}, a listener, a route, an upstream group, a
 * server): each getter reports problems with file:line and the full key into the list the whole load shares, and
 * returns a fallback, so reading goes on and every problem is found in one pass. The section readers
 * ({@link UpstreamsSection}, {@link RoutingSection}, {@link CacheSection}, {@link AdminSection}) build on it.
 */
final class TypedReader {
    private static final Pattern CONGESTION_NAME = Pattern.compile("[a-z0-9_]{1,15}");

    /** What the kernel offers for TCP_CONGESTION, read on first use; null where it does not say (not Linux). */
    private static final class Kernel {
        static final List<String> CONGESTION = read("/proc/sys/net/ipv4/tcp_available_congestion_control");

        private static List<String> read(String file) {
            // FileInputStream, not Files.readString: on JDK 25 the latter returns one byte of a /proc/sys file
            try (FileInputStream in = new FileInputStream(file)) {
                return List.of(new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip().split("\\s+"));
            } catch (IOException e) {
                return null;
            }
        }
    }

    // read directly by the section readers, for lists and objects the getters do not cover
    final Config c;
    final String path;
    final List<String> problems;

    TypedReader(Config c, String path, List<String> problems) {
        this.c = c;
        this.path = path;
        this.problems = problems;
    }

    /** A reader of {@code child}, an object inside this one whose full path is {@code childPath}. */
    TypedReader child(Config child, String childPath) {
        return new TypedReader(child, childPath, problems);
    }

    /** A key as it stands in a path: quoted unless it is only letters, digits, _ and -. */
    static String quote(String key) {
        return key.matches("[A-Za-z0-9_-]+") ? key : '"' + key + '"';
    }

    /** "file:line: " for a value's origin, the way compilers name a place in a file. */
    static String at(ConfigOrigin origin) {
        if (origin == null) {
            return "";
        }
        String where = origin.filename() != null ? origin.filename()
                : origin.resource() != null ? origin.resource() : origin.description();
        if (origin.lineNumber() > 0 && origin.filename() == null && origin.resource() == null) {
            // description already carries ": line" for strings; keep just the name part
            int colon = where.lastIndexOf(": ");
            if (colon > 0) {
                where = where.substring(0, colon);
            }
        }
        return origin.lineNumber() > 0 ? where + ":" + origin.lineNumber() + ": " : where + ": ";
    }

    /** Whether {@code key} holds an object, as the template has it; a problem showing {@code example} if not. */
    boolean section(String key, String example) {
        if (c.hasPath(key) && c.getValue(key) instanceof ConfigObject) {
            return true;
        }
        problem(key, "must be an object, e.g. " + example);
        return false;
    }

    // ---- primitive getters ----

    /** What {@code getter} reads at {@code key}, or null with the problem reported. */
    <T> T get(String key, Function<String, T> getter) {
        try {
            return getter.apply(key);
        } catch (com.typesafe.config.ConfigException e) {
            report(key, e);
            return null;
        }
    }

    private void report(String key, com.typesafe.config.ConfigException e) {
        ConfigOrigin origin = c.hasPathOrNull(key) && !c.getIsNull(key) ? c.getValue(key).origin() : e.origin();
        String msg = e.getMessage();
        if (e instanceof com.typesafe.config.ConfigException.WrongType && c.hasPath(key)) {
            msg = "has type " + c.getValue(key).valueType().name().toLowerCase(Locale.ROOT) + ", expected "
                    + expected(e.getMessage());
        } else if (e instanceof com.typesafe.config.ConfigException.BadValue bv) {
            int idx = msg.indexOf("Invalid value at '");
            msg = idx >= 0 ? msg.substring(msg.indexOf("':", idx) + 3) : bv.getMessage();
        }
        problems.add(at(origin) + path + "." + key + ": " + msg);
    }

    private static String expected(String typesafeMessage) {
        int i = typesafeMessage.lastIndexOf("rather than ");
        return i >= 0 ? typesafeMessage.substring(i + "rather than ".length()).toLowerCase(Locale.ROOT) : "another type";
    }

    void problem(String key, String what) {
        // the value's own line, null values included; else the line of the object that lacks it
        ConfigValue v = c.root();
        for (String part : ConfigUtil.splitPath(key)) {
            if (!(v instanceof ConfigObject o) || o.get(part) == null) {
                v = c.root();
                break;
            }
            v = o.get(part);
        }
        problems.add(at(v.origin()) + path + "." + key + ": " + what);
    }

    String string(String key) {
        return get(key, c::getString);
    }

    /**
     * {@code tcp-congestion}: "" (the system's), or an algorithm this kernel offers (TCP_CONGESTION takes names
     * of up to 15 characters; the kernel lists what it has in tcp_available_congestion_control).
     */
    String congestion() {
        String name = string("tcp-congestion");
        if (name == null || name.isEmpty()) {
            return "";
        }
        if (!CONGESTION_NAME.matcher(name).matches()) {
            problem("tcp-congestion", "'" + name + "' is not a congestion control name (1-15 of a-z, 0-9, _)");
            return "";
        }
        List<String> available = Kernel.CONGESTION;
        if (available != null && !available.contains(name)) {
            problem("tcp-congestion", "'" + name + "' is not available in this kernel (available: "
                    + String.join(" ", available) + "; load its module, e.g. modprobe tcp_" + name + ")");
            return "";
        }
        return name;
    }

    boolean bool(String key) {
        Boolean b = get(key, c::getBoolean);
        return b != null && b;
    }

    int intAtLeast(String key, int min) {
        Integer v = get(key, c::getInt);
        if (v == null) {
            return min;
        }
        if (v < min) {
            problem(key, "must be >= " + min + ", got " + v);
            return min;
        }
        return v;
    }

    /**
     * The elements of list {@code key} that {@code element} accepts (it returns the element's value, or null to
     * refuse it), in order; each refused one is a problem "key[i]: {@code expected}, got VALUE" with its file:line.
     */
    <T> List<T> list(String key, Function<ConfigValue, T> element, String expected) {
        List<T> out = new ArrayList<>();
        ConfigList list = get(key, c::getList);
        if (list == null) {
            return out;
        }
        for (int i = 0; i < list.size(); i++) {
            ConfigValue v = list.get(i);
            T t = element.apply(v);
            if (t != null) {
                out.add(t);
            } else {
                problems.add(at(v.origin()) + path + "." + key + "[" + i + "]: " + expected + ", got " + v.render());
            }
        }
        return out;
    }

    int intBetween(String key, int min, int max) {
        int v = intAtLeast(key, min);
        if (v > max) {
            problem(key, "must be <= " + max + ", got " + v);
            return max;
        }
        return v;
    }

    long bytes(String key, long min, long max) {
        Long v = get(key, c::getBytes);
        if (v == null) {
            return min;
        }
        if (v != 0 && (v < min || v > max) || (v == 0 && min > 0)) {
            problem(key, (max == Long.MAX_VALUE ? "must be at least " + min + (min == 1 ? " byte" : " bytes")
                    : "must be between " + min + " and " + max + " bytes") + ", got " + v);
            return Math.max(min, 1);
        }
        return v;
    }

    /** A size that is 0 (turning the feature off, {@code off} says what that means) or at least {@code min}. */
    long bytesOrOff(String key, long min, String off) {
        Long v = get(key, c::getBytes);
        if (v == null) {
            return 0;
        }
        if (v != 0 && v < min) {
            problem(key, "must be 0 (" + off + ") or at least " + min + " bytes, got " + v);
            return 0;
        }
        return v;
    }

    Duration positive(String key) {
        Duration d = get(key, c::getDuration);
        if (d == null) {
            return Duration.ofSeconds(1);
        }
        if (d.isNegative() || d.isZero()) {
            problem(key, "must be a positive duration, got " + d);
            return Duration.ofSeconds(1);
        }
        return d;
    }

    /** A duration of 0 or more. */
    Duration notNegative(String key) {
        Duration d = get(key, c::getDuration);
        if (d == null) {
            return Duration.ZERO;
        }
        if (d.isNegative()) {
            problem(key, "must be 0 or a positive duration, got " + d);
            return Duration.ZERO;
        }
        return d;
    }

    /** A duration in [0, max]; 0 is allowed (it turns the feature off). */
    Duration upTo(String key, Duration max) {
        Duration d = get(key, c::getDuration);
        if (d == null) {
            return Duration.ZERO;
        }
        if (d.isNegative() || d.compareTo(max) > 0) {
            problem(key, "must be between 0 and " + max + ", got " + d);
            return Duration.ZERO;
        }
        return d;
    }

    Duration optionalDuration(String key, Duration fallback) {
        if (c.getValue(key).valueType() == ConfigValueType.STRING && c.getString(key).isEmpty()) {
            return fallback;
        }
        return positive(key);
    }

    <E extends Enum<E>> E enumOf(String key, Class<E> type, E fallback) {
        String s = string(key);
        if (s == null) {
            return fallback;
        }
        String norm = s.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(norm)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT).replace('_', type == Transport.class ? '_' : '-'));
        }
        problem(key, "'" + s + "' is not one of " + String.join(" | ", names));
        return fallback;
    }

    HostPort hostPort(String key) {
        String s = string(key);
        return s == null ? null : parseHostPort(s, c.getValue(key).origin(), key);
    }

    HostPort parseHostPort(String s, ConfigOrigin origin, String key) {
        HostPort hp = HostPorts.parse(s);
        if (hp == null) {
            problems.add(at(origin) + path + "." + key + ": expected \"host:port\" with port 0-65535, got '" + s + "'");
        }
        return hp;
    }
}
