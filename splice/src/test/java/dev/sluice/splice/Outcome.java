package dev.sluice.splice;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link SpliceCallback} that records every invocation, so tests can assert "exactly once". */
final class Outcome implements SpliceCallback {
    record Result(long moved, Throwable cause, boolean onLoop) {
    }

    final CompletableFuture<Result> result = new CompletableFuture<>();
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public void done(long bytesMoved, Throwable cause) {
        calls.incrementAndGet();
        result.complete(new Result(bytesMoved, cause, Rig.LOOP.inEventLoop()));
    }

    Result await() throws Exception {
        return result.get(60, TimeUnit.SECONDS);
    }
}
