package dev.sluice.proxy;

import dev.sluice.admin.ConfigReload;
import dev.sluice.conf.ConfigChanges;
import dev.sluice.conf.ConfigException;
import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.util.concurrent.Future;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Reloads the configuration file Sluice was started with ({@code POST /config/reload}, SIGHUP): reads and validates it
 * ({@link ConfigLoader#load}, the same file:line problems as at start), works out what changed
 * ({@link ConfigChanges}), builds the next {@link Generation} and hands it to every loop by a task on that loop
 * ({@link LoopContext#swap}). No connection is dropped and nothing on the data path takes a lock: an exchange reads
 * its loop's generation once, when it starts, and finishes on it.
 *
 * <p>All or nothing: an invalid file changes nothing (the problems are returned); a valid one applies every change
 * that can be made while running, and lists those that take a restart without making any part of them. One log line
 * per reload; {@code sluice_config_reloads_total{result}} counts them (applied, unchanged, invalid, no_file).
 *
 * <p>Reloads are serialized (one at a time, whoever asks); they run on the caller's thread (the admin loop or the
 * signal handler's), never on a data-path loop, and wait for the loops' swaps (bounded) so that when the reply says
 * applied, requests that start afterwards see the new configuration.
 */
final class ConfigReloader implements ConfigReload {
    private static final System.Logger LOG = System.getLogger(ConfigReloader.class.getName());
    /** How long a reload waits for the loops to take the new generation (a loop runs tasks between its I/O). */
    private static final long SWAP_WAIT_SECONDS = 10;

    private final Path file;
    private final SluiceConfig started;
    private final ProxyContext context;
    /** Sets up splicing on a loop that had none at start (Sluice's, run on that loop). */
    private final Consumer<LoopContext> initSplice;
    private final Counter applied;
    private final Counter unchanged;
    private final Counter invalid;
    private final Counter noFile;

    /** @param file the file to read again; null when Sluice runs from none (the built-in demo) */
    ConfigReloader(Path file, SluiceConfig started, ProxyContext context, Consumer<LoopContext> initSplice) {
        this.file = file == null ? null : file.toAbsolutePath(); // the working directory is the start's anyway
        this.started = started;
        this.context = context;
        this.initSplice = initSplice;
        var registry = context.metrics.registry;
        applied = reloads(registry, "applied");
        unchanged = reloads(registry, "unchanged");
        invalid = reloads(registry, "invalid");
        noFile = reloads(registry, "no_file");
        Gauge.builder("sluice.config.generation", context, c -> c.generation.number)
                .description("The configuration generation in effect: 1 at start, +1 per reload that changed something")
                .register(registry);
    }

    private static Counter reloads(io.micrometer.core.instrument.MeterRegistry registry, String result) {
        return Counter.builder("sluice.config.reloads").description("Configuration reloads by result (applied:"
                + " something changed; unchanged: nothing that applies while running; invalid: the file was refused,"
                + " nothing changed; no_file: Sluice runs from no file)").tag("result", result).register(registry);
    }

    @Override
    public synchronized Outcome reload(String trigger) {
        if (file == null) {
            noFile.increment();
            String why = "nothing to reload: Sluice was started without a file to read again (its configuration: "
                    + started.source() + "); one started with 'sluice run FILE' reloads FILE";
            LOG.log(System.Logger.Level.WARNING, "config reload ({0}) refused: {1}", trigger, why);
            return new NoFile(why);
        }
        SluiceConfig next;
        try {
            next = ConfigLoader.load(file);
        } catch (ConfigException e) {
            invalid.increment();
            LOG.log(System.Logger.Level.WARNING, "config reload ({0}) of {1} refused, nothing changed: {2} problem(s),"
                    + " the first: {3}", trigger, file, e.problems().size(), e.problems().isEmpty() ? "" : e.problems().get(0));
            return new Invalid(file.toString(), e.problems());
        }
        Generation current = context.generation;
        ConfigChanges changes = ConfigChanges.between(started, current.config, next);
        List<String> restart = new ArrayList<>(changes.restartRequired());
        if (context.cache == null && next.routes().stream().anyMatch(r -> r.cache().enabled())) {
            restart.add("routes' cache.enabled: no cache memory was mapped at start ("
                    + (started.cache().memory() == 0 ? "cache.memory = 0" : "no route cached")
                    + "), so those routes forward every request until a restart");
        }
        if (changes.applied().isEmpty()) {
            unchanged.increment();
            LOG.log(System.Logger.Level.INFO, "config reload ({0}) of {1}: nothing to apply, generation {2} stays{3}",
                    trigger, file, current.number, restartNote(restart));
            return new Applied(file.toString(), current.number, List.of(), restart);
        }
        Generation gen = Generation.build(current.number + 1, next, started, current, context.metrics, context.cache);
        swapAll(gen);
        context.generation = gen;
        applied.increment();
        LOG.log(System.Logger.Level.INFO, "config reload ({0}) of {1}: generation {2} applied: {3}{4}", trigger, file,
                gen.number, String.join("; ", changes.applied()), restartNote(restart));
        return new Applied(file.toString(), gen.number, changes.applied(), restart);
    }

    private static String restartNote(List<String> restart) {
        return restart.isEmpty() ? "" : "; needs a restart, not applied: " + String.join("; ", restart);
    }

    /**
     * Hands {@code gen} to every loop and waits until each has it (bounded: a loop that is stuck gets it when it runs
     * its tasks again, and the reply does not wait for that).
     */
    private void swapAll(Generation gen) {
        List<Future<?>> swaps = new ArrayList<>();
        for (LoopContext lc : context.loops()) {
            try {
                swaps.add(lc.loop.submit(() -> {
                    if (lc.splicer == null && gen.splices()) {
                        initSplice.accept(lc); // leaves it null where this loop cannot splice
                    }
                    lc.swap(gen);
                }));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                return; // Sluice is stopping (a SIGHUP during the stop): its loops take no more tasks
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SWAP_WAIT_SECONDS);
        for (Future<?> f : swaps) {
            if (!f.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "config reload: a loop has not taken generation {0} within {1} s;"
                        + " it will when it runs its tasks", gen.number, SWAP_WAIT_SECONDS);
                return;
            }
            if (!f.isSuccess()) {
                LOG.log(System.Logger.Level.ERROR, "config reload: a loop failed to take generation " + gen.number,
                        f.cause());
            }
        }
    }
}
