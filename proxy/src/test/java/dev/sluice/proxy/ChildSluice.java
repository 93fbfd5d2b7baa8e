package dev.sluice.proxy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code Main run FILE} in a separate JVM under {@code prlimit --nofile=N:N} (util-linux), so that it can run out of
 * file descriptors without taking the test JVM with it. Its output (stdout and stderr) is kept line by line.
 */
final class ChildSluice implements AutoCloseable {
    static final String PRLIMIT = "/usr/bin/prlimit";
    private static final Pattern LISTENER = Pattern.compile("listener http on 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern ADMIN = Pattern.compile("admin listening on /127\\.0\\.0\\.1:(\\d+)");

    private static final int MAX_LINES = 10_000;

    final Process process;
    private final List<String> lines = new ArrayList<>();
    private boolean ended;
    final int port;
    final int adminPort;

    /** @param dir where the class path's directories are packed into jars */
    ChildSluice(Path conf, int nofile, Path dir) throws Exception {
        if (!Files.isExecutable(Path.of(PRLIMIT))) {
            throw new AssertionError("these tests need " + PRLIMIT + " (util-linux) to lower the child's open-file limit");
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        process = new ProcessBuilder(PRLIMIT, "--nofile=" + nofile + ":" + nofile, java, "-Xmx64m",
                "--enable-native-access=ALL-UNNAMED", "-cp", jarredClassPath(dir),
                "dev.sluice.proxy.Main", "run", conf.toString()).redirectErrorStream(true).start();
        Thread.ofVirtual().start(this::drain);
        try {
            port = Integer.parseInt(awaitLine(LISTENER, 60).group(1));
            adminPort = Integer.parseInt(awaitLine(ADMIN, 10).group(1));
        } catch (Exception | AssertionError e) {
            close();
            throw e;
        }
    }

    /**
     * The test class path with every directory (target/classes) packed into a jar, as bin/sluice runs Sluice: the JVM
     * keeps a jar open and loads its classes without a new fd, but opens a file per class loaded from a directory,
     * which fails once the fds are gone (NoClassDefFoundError on an event loop, which ends the loop).
     */
    private static String jarredClassPath(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            if (!Files.isDirectory(p)) {
                out.add(entry);
                continue;
            }
            Path jar = dir.resolve("classpath-" + n++ + ".jar");
            try (var jos = new java.util.jar.JarOutputStream(Files.newOutputStream(jar));
                    var files = Files.walk(p)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    jos.putNextEntry(new java.util.jar.JarEntry(p.relativize(f).toString().replace('\\', '/')));
                    Files.copy(f, jos);
                    jos.closeEntry();
                }
            }
            out.add(jar.toString());
        }
        return String.join(java.io.File.pathSeparator, out);
    }

    private void drain() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (lines) {
                    if (lines.size() < MAX_LINES) { // a flood is failure enough; do not keep it all
                        lines.add(line);
                        lines.notifyAll();
                    }
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
        synchronized (lines) {
            ended = true;
            lines.notifyAll();
        }
    }

    /** Waits until a line of output matches (the child logs the event this waits for). */
    Matcher awaitLine(Pattern p, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        int seen = 0;
        synchronized (lines) {
            while (true) {
                for (; seen < lines.size(); seen++) {
                    Matcher m = p.matcher(lines.get(seen));
                    if (m.find()) {
                        return m;
                    }
                }
                long left = deadline - System.nanoTime();
                if (ended || left <= 0) {
                    throw new AssertionError((ended ? "Sluice ended" : "timed out") + " before a line matched " + p
                            + "; its output:\n" + String.join("\n", lines));
                }
                lines.wait(TimeUnit.NANOSECONDS.toMillis(left) + 1);
            }
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs a test's body; a failure carries the child's output with it. */
    void check(Body body) throws Exception {
        try {
            body.run();
        } catch (Exception | AssertionError e) {
            List<String> all = lines();
            e.addSuppressed(new AssertionError("output of the Sluice under test (" + all.size() + " lines):\n"
                    + String.join("\n", all.subList(0, Math.min(all.size(), 60)))));
            throw e;
        }
    }

    List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    long linesContaining(String s) {
        return lines().stream().filter(l -> l.contains(s)).count();
    }

    /** CPU the child used so far (utime + stime from /proc/PID/stat), in clock ticks (1/100 s). */
    long cpuTicks() throws IOException {
        String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
        // the command name (field 2) is in parentheses and may hold spaces: count fields after its ')'
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of the whole line
    }

    /** Open fds of the child (entries of /proc/PID/fd; the tests run as the same user or root). */
    long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/" + process.pid() + "/fd"))) {
            return s.count();
        }
    }

    /** The child's value of a metric line (exact name and labels as Prometheus prints them), from its admin listener. */
    double metric(String nameAndLabels) throws IOException {
        try (TestClient c = new TestClient(adminPort)) {
            String text = c.send("GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").read().bodyText();
            for (String l : text.split("\n")) {
                if (l.startsWith(nameAndLabels + " ")) {
                    return Double.parseDouble(l.substring(nameAndLabels.length() + 1).trim());
                }
            }
            return Double.NaN;
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
