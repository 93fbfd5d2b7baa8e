package dev.sluice.proxy;

import dev.sluice.admin.ConfigReload;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * SIGHUP reloads the configuration, as daemons do. The JDK's public API has no signal handling; {@code sun.misc.Signal}
 * (module jdk.unsupported) does, and is reached by reflection so that a JDK without it, or a JVM that keeps signals to
 * itself ({@code -Xrs}), only costs the signal: a warning says so, and {@code POST /config/reload} still works.
 *
 * <p>Without a handler the JVM treats SIGHUP as a request to exit; with this one, Sluice reloads and goes on. The
 * handler runs on a thread the JVM starts per signal, never on an event loop; reloads are serialized by the reloader.
 */
final class HangupSignal {
    private static final System.Logger LOG = System.getLogger(HangupSignal.class.getName());

    private HangupSignal() {}

    /** Installs the handler for the whole process; false (and a warning) when it cannot be. */
    static boolean install(ConfigReload reload) {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Object hup = signal.getConstructor(String.class).newInstance("HUP");
            InvocationHandler onSignal = (proxy, method, args) -> switch (method.getName()) {
                case "handle" -> {
                    handle(reload);
                    yield null;
                }
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> "SIGHUP: configuration reload";
            };
            Object handler = Proxy.newProxyInstance(HangupSignal.class.getClassLoader(), new Class<?>[] {handlerType},
                    onSignal);
            Method handle = signal.getMethod("handle", signal, handlerType);
            handle.invoke(null, hup, handler);
            return true;
        } catch (InvocationTargetException e) {
            unavailable(e.getCause());
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            unavailable(e);
        }
        return false;
    }

    /** What SIGHUP runs: a reload, which logs its own line; nothing may escape into the JVM's signal thread. */
    static void handle(ConfigReload reload) {
        try {
            reload.reload("SIGHUP");
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "config reload (SIGHUP) failed", e);
        }
    }

    private static void unavailable(Throwable why) {
        LOG.log(System.Logger.Level.WARNING, "SIGHUP cannot reload the configuration here ({0}): reload with"
                + " POST /config/reload on the admin listener, or 'sluice admin reload'", String.valueOf(why));
    }
}
