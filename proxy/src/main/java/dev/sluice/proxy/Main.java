package dev.sluice.proxy;

import dev.sluice.conf.ConfigException;
import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.proxy.demo.DemoOrigin;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The {@code sluice} command: {@code sluice [run] [FILE]}, {@code sluice check-config FILE}, {@code sluice admin ...}
 * (the admin API's client), {@code sluice help}, {@code sluice --version}. Exit status: 0 done, 1 a configuration that does not load or a Sluice that does not
 * start, 2 a usage error (picocli's {@code ExitCode.USAGE}).
 *
 * <p>A subcommand is one more class in {@code subcommands} below: a picocli {@code @Command} that is a
 * {@code Callable<Integer>} returning its exit status (it may live in another module proxy depends on).
 */
@Command(name = "sluice", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Runs Sluice with FILE (HOCON); without FILE, the built-in demo (an origin and a proxy on 127.0.0.1:8080).",
        subcommands = {
            Main.Run.class,
            Main.CheckConfig.class,
            dev.sluice.admin.cli.AdminCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class Main implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "FILE", description = "configuration (HOCON); none = the built-in demo")
    private Path file;

    private Main() {}

    public static void main(String[] args) throws Exception {
        // Before anything logs, and without loading that class here: loading it initializes LogManager, which
        // reads the property then. The stop line then survives JUL's shutdown hook.
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", "dev.sluice.proxy.ShutdownLogManager");
        }
        BufferLeaks.install(); // before any Netty buffer class: Netty reads the detector class once
        Transports.spliceCompatible(); // initializes Transports (and its Netty settings) before any Netty class
        System.exit(run(args));
    }

    /** Runs the command line; returns the exit status. Output goes to System.out and System.err as they are now. */
    static int run(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        shareVersion(cl, new Version());
        return cl.execute(args);
    }

    /** Every subcommand's {@code -V} prints Sluice's version too (picocli gives each command its own provider). */
    private static void shareVersion(CommandLine cl, CommandLine.IVersionProvider version) {
        cl.getCommandSpec().versionProvider(version);
        cl.getSubcommands().values().forEach(sub -> shareVersion(sub, version));
    }

    @Override
    public Integer call() throws Exception {
        return runSluice(file);
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Runs Sluice with FILE; without FILE, the built-in demo. SIGHUP reloads FILE; SIGTERM or Ctrl-C"
                    + " stops it.")
    static final class Run implements Callable<Integer> {
        @Parameters(arity = "0..1", paramLabel = "FILE", description = "configuration (HOCON); none = the built-in demo")
        private Path file;

        @Override
        public Integer call() throws Exception {
            return runSluice(file);
        }
    }

    @Command(name = "check-config", mixinStandardHelpOptions = true,
            description = "Validates FILE and exits: 0 = valid, 1 = each problem printed with file, line and key.")
    static final class CheckConfig implements Callable<Integer> {
        @Parameters(arity = "1", paramLabel = "FILE")
        private Path file;

        @Override
        public Integer call() {
            try {
                SluiceConfig c = ConfigLoader.load(file);
                System.out.println(file + ": ok (" + c.listeners().size() + " listener(s), " + c.upstreams().size()
                        + " upstream group(s), " + c.routes().size() + " route(s))");
                return 0;
            } catch (ConfigException e) {
                e.problems().forEach(System.err::println);
                return 1;
            }
        }
    }

    /** The Maven project's version, from a resource the build fills in. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sluice " + Sluice.version()};
        }
    }

    /** Runs Sluice with {@code file}, or the demo when null, until the JVM is asked to stop. */
    private static int runSluice(Path file) throws InterruptedException {
        DemoOrigin origin = null;
        SluiceConfig config;
        try {
            if (file == null) {
                SluiceConfig base = ConfigLoader.demo(Map.of("sluice.upstreams.demo-origin.servers", List.of("127.0.0.1:1")));
                origin = DemoOrigin.start(base.demo().originAddress().host(), base.demo().originAddress().port());
                config = ConfigLoader.demo(Map.of("sluice.upstreams.demo-origin.servers",
                        List.of(base.demo().originAddress().host() + ":" + origin.port())));
            } else {
                config = ConfigLoader.load(file);
            }
        } catch (ConfigException e) {
            e.problems().forEach(System.err::println);
            if (origin != null) {
                origin.close();
            }
            return 1;
        }
        Sluice sluice;
        try {
            sluice = Sluice.start(config, file); // file null: the demo, which has none to reload
        } catch (Exception e) {
            System.err.println("sluice: cannot start: " + (e instanceof StartException ? e.getMessage() : e));
            if (origin != null) {
                origin.close();
            }
            return 1;
        }
        HangupSignal.install(sluice.reloader()); // SIGHUP reloads FILE (the demo answers that it has none)
        CountDownLatch stopped = new CountDownLatch(1);
        DemoOrigin demoOrigin = origin;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sluice.close();
            if (demoOrigin != null) {
                demoOrigin.close();
            }
            ShutdownLogManager.stopped();
            stopped.countDown();
        }, "sluice-shutdown"));
        if (origin != null) {
            int port = sluice.port("http");
            System.err.printf("""
                    Sluice demo: proxy on http://127.0.0.1:%d -> demo origin on 127.0.0.1:%d (transport %s)
                      curl -sv 'http://127.0.0.1:%d/objects/hello.bin?size=1m' -o /dev/null
                      curl -sD - -o /dev/null 'http://127.0.0.1:%d/objects/a.bin?size=1m&cc=public,max-age=3600'  # twice: miss, hit
                      curl -s  'http://127.0.0.1:%d/echo?echo=1'          # the request as the origin saw it
                      curl -s  http://%s/metrics | grep sluice_
                    Ctrl-C stops it.
                    """, port, origin.port(), sluice.transport(), port, port, port,
                    sluice.adminAddress() == null ? "(admin disabled)" : "127.0.0.1:" + sluice.adminAddress().getPort());
        }
        stopped.await();
        return 0;
    }
}
