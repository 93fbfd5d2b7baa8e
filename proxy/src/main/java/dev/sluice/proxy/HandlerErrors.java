package dev.sluice.proxy;

import java.io.IOException;
import java.time.Duration;

/**
 * What a connection's handler does with an exception Netty hands it: I/O errors (a reset by the peer and the like)
 * are the network's doing and only DEBUG; anything else escaped Sluice's own code, a bug that would otherwise show
 * only as a closed connection, so it is logged at ERROR with its stack, at most once a minute (with a count of the
 * others) so that no input can flood the log with it.
 */
final class HandlerErrors {
    private static final System.Logger LOG = System.getLogger(HandlerErrors.class.getName());
    private static final LogLimiter BUGS = new LogLimiter(Duration.ofMinutes(1));

    private HandlerErrors() {}

    static void caught(String where, Throwable cause) {
        if (cause instanceof IOException) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", where, cause.toString());
            return;
        }
        long more = BUGS.admit();
        if (more >= 0) {
            LOG.log(System.Logger.Level.ERROR, where + ": unexpected exception, connection closed" + LogLimiter.more(more),
                    cause);
        }
    }
}
