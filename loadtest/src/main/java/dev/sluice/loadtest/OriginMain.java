package dev.sluice.loadtest;

import java.util.concurrent.CountDownLatch;

/**
 * Runs an {@link Origin} until killed: {@code OriginMain [--host H] [--port P] [--name N] [--threads T]
 * [--cache-mb M]}. Prints {@code origin listening on HOST:PORT} once bound (scripts wait for that line).
 */
public final class OriginMain {
    private OriginMain() {}

    public static void main(String[] a) {
        Origin.Builder b = Origin.builder();
        try {
            for (int i = 0; i < a.length; i++) {
                String opt = a[i];
                if (opt.equals("-h") || opt.equals("--help")) {
                    usage(null);
                    System.exit(0);
                }
                if (i + 1 >= a.length) {
                    usage(opt + " needs a value");
                }
                String v = a[++i];
                switch (opt) {
                    case "--host" -> b.host(v);
                    case "--port" -> b.port(Integer.parseInt(v));
                    case "--name" -> b.name(v);
                    case "--threads" -> b.threads(Integer.parseInt(v));
                    case "--cache-mb" -> b.cacheBytes(Long.parseLong(v) << 20);
                    default -> usage("unknown option " + opt);
                }
            }
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
        }
        Origin origin = b.build();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            origin.close();
            stop.countDown();
        }, "origin-shutdown"));
        System.out.println("origin listening on " + origin.address().getHostString() + ":" + origin.port());
        System.out.flush();
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void usage(String error) {
        if (error != null) {
            System.err.println("origin: " + error);
        }
        System.err.println("usage: OriginMain [--host 127.0.0.1] [--port 0] [--name origin] [--threads 1] "
                + "[--cache-mb 64]");
        if (error != null) {
            System.exit(2);
        }
    }
}
