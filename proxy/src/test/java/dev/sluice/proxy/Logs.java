package dev.sluice.proxy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What Sluice logged while a test ran: access-log lines in a file, and java.util.logging records. */
final class Logs {
    private Logs() {}

    /** The first line of the access log at {@code log} containing {@code needle}, waiting up to {@code millis}; "" if none came. */
    static String awaitLine(Path log, String needle, long millis) throws Exception {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (true) {
            String line = Files.readAllLines(log).stream().filter(l -> l.contains(needle)).findFirst().orElse("");
            if (!line.isEmpty() || System.nanoTime() > deadline) {
                return line;
            }
            Thread.sleep(20);
        }
    }

    /** Collects every log record of the process (Sluice's and Netty's) from creation until {@link #close}. */
    static final class Capture extends Handler implements AutoCloseable {
        final List<LogRecord> records = new CopyOnWriteArrayList<>();

        Capture() {
            Logger.getLogger("").addHandler(this);
        }

        /** Records that carry an exception: a bug's stack trace, where an expected refusal logs a reason. */
        List<LogRecord> withThrowable() {
            return records.stream().filter(r -> r.getThrown() != null).toList();
        }

        long count(String fragment) {
            return records.stream().filter(r -> String.valueOf(r.getMessage()).contains(fragment)
                    || (r.getParameters() != null && java.util.Arrays.toString(r.getParameters()).contains(fragment))).count();
        }

        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {
            Logger.getLogger("").removeHandler(this);
        }
    }
}
