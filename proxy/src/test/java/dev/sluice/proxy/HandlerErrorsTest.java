package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** A handler's exceptions: the network's are quiet, a bug's is logged with its stack, once a minute at most. */
class HandlerErrorsTest {
    @Test
    void ioErrorsStayQuiet_andBugsAreLoggedOnceAMinuteWithTheirStack() {
        Logger logger = Logger.getLogger(HandlerErrors.class.getName());
        List<LogRecord> severe = new CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel() == Level.SEVERE) {
                    severe.add(r);
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(h);
        try {
            HandlerErrors.caught("client connection from 127.0.0.1", new IOException("Connection reset by peer"));
            assertEquals(0, severe.size(), "a reset is the network's doing");
            NullPointerException bug = new NullPointerException("a bug");
            for (int i = 0; i < 100; i++) {
                HandlerErrors.caught("upstream connection 127.0.0.1:1", bug);
            }
            assertEquals(1, severe.size(), "one line for a hundred");
            assertSame(bug, severe.get(0).getThrown(), "with its stack");
        } finally {
            logger.removeHandler(h);
        }
    }
}
