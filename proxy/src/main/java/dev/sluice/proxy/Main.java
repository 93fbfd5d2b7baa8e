package dev.sluice.proxy;

import dev.sluice.conf.ConfigException;
import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.proxy.demo.DemoOrigin;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/** The {@code sluice} command. */
public final class Main {
    private static final String USAGE = """
            usage: sluice [run] [FILE]        run with FILE (HOCON); without FILE, run the built-in demo
                   sluice check-config FILE   validate FILE and exit (0 = valid)
                   sluice help
            """;

    private Main() {}

    public static void main(String[] args) throws Exception {
        BufferLeaks.install(); // before any Netty buffer class: Netty reads the detector class once
        Transports.spliceCompatible(); // initializes Transports (and its Netty settings) before any Netty class
        System.exit(run(args));
    }

    static int run(String[] args) throws Exception {
        List<String> a = List.of(args);
        if (!a.isEmpty() && (a.get(0).equals("help") || a.get(0).equals("--help") || a.get(0).equals("-h"))) {
            System.out.print(USAGE);
            return 0;
        }
        if (!a.isEmpty() && a.get(0).equals("check-config")) {
            if (a.size() != 2) {
                System.err.print(USAGE);
                return 2;
            }
            try {
                SluiceConfig c = ConfigLoader.load(Path.of(a.get(1)));
                System.out.println(a.get(1) + ": ok (" + c.listeners().size() + " listener(s), " + c.upstreams().size()
                        + " upstream group(s), " + c.routes().size() + " route(s))");
                return 0;
            } catch (ConfigException e) {
                e.problems().forEach(System.err::println);
                return 1;
            }
        }
        List<String> rest = !a.isEmpty() && a.get(0).equals("run") ? a.subList(1, a.size()) : a;
        if (rest.size() > 1 || (rest.size() == 1 && rest.get(0).startsWith("-"))) {
            System.err.print(USAGE);
            return 2;
        }
        DemoOrigin origin = null;
        SluiceConfig config;
        try {
            if (rest.isEmpty()) {
                SluiceConfig base = ConfigLoader.demo(Map.of("sluice.upstreams.demo-origin.servers", List.of("127.0.0.1:1")));
                origin = DemoOrigin.start(base.demo().originAddress().host(), base.demo().originAddress().port());
                config = ConfigLoader.demo(Map.of("sluice.upstreams.demo-origin.servers",
                        List.of(base.demo().originAddress().host() + ":" + origin.port())));
            } else {
                config = ConfigLoader.load(Path.of(rest.get(0)));
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
            sluice = Sluice.start(config);
        } catch (Exception e) {
            System.err.println("sluice: cannot start: " + (e instanceof StartException ? e.getMessage() : e));
            if (origin != null) {
                origin.close();
            }
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        DemoOrigin demoOrigin = origin;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sluice.close();
            if (demoOrigin != null) {
                demoOrigin.close();
            }
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
