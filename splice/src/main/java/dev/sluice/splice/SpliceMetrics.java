package dev.sluice.splice;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;

import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of the splice module. One instance may be shared by the splicers of all loops or given one per loop;
 * writers are event loop threads (LongAdder: no lock, no contention between loops), getters are thread-safe and
 * {@link #bindTo} exposes everything as Micrometer meters.
 *
 * <p>Meters: {@code sluice.splice.bytes} (socket to socket), {@code sluice.splice.pipes.in.use},
 * {@code sluice.splice.pipes.open}, {@code sluice.splice.pipes.max}, {@code sluice.splice.pipes.created},
 * {@code sluice.splice.pipes.discarded}, {@code sluice.splice.fallbacks{reason}},
 * {@code sluice.splice.eagain.polls{direction=in|out}}, {@code sluice.splice.transfers{outcome}},
 * {@code sluice.splice.send.bytes{mechanism=write|send_zc|splice|sendfile}}, {@code sluice.splice.sends{mechanism}},
 * {@code sluice.splice.send.zc.copied}, {@code sluice.splice.batched.polls}, {@code sluice.splice.batch.timeouts},
 * {@code sluice.splice.hangup.watches}.
 */
public final class SpliceMetrics {

    private final LongAdder bytesSpliced = new LongAdder();
    private final LongAdder pipesInUse = new LongAdder();
    private final LongAdder pipesOpen = new LongAdder();
    private final LongAdder pipesMax = new LongAdder();
    private final LongAdder pipesCreated = new LongAdder();
    private final LongAdder pipesDiscarded = new LongAdder();
    private final LongAdder pollsIn = new LongAdder();
    private final LongAdder pollsOut = new LongAdder();
    private final LongAdder batchedPolls = new LongAdder();
    private final LongAdder batchTimeouts = new LongAdder();
    private final LongAdder hangupWatches = new LongAdder();
    private final LongAdder[] fallbacks = adders(FallbackReason.values().length);
    private final LongAdder[] sendBytes = adders(SendMechanism.values().length);
    private final LongAdder[] sends = adders(SendMechanism.values().length);
    private final LongAdder sendZcCopied = new LongAdder();
    private final LongAdder[] outcomes = adders(SpliceOutcome.values().length);

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    // ---- writers (event loop threads) ----

    void bytesSpliced(long n) {
        bytesSpliced.add(n);
    }

    void pipeAcquired() {
        pipesInUse.increment();
    }

    void pipeReleased() {
        pipesInUse.decrement();
    }

    void pipeCreated() {
        pipesCreated.increment();
        pipesOpen.increment();
    }

    void pipeClosed(boolean discarded) {
        pipesOpen.decrement();
        if (discarded) {
            pipesDiscarded.increment();
        }
    }

    void poolOpened(int maxPipes) {
        pipesMax.add(maxPipes);
    }

    void poolClosed(int maxPipes) {
        pipesMax.add(-maxPipes);
    }

    void pollIn() {
        pollsIn.increment();
    }

    void batchTimeout() {
        batchTimeouts.increment();
    }

    void batchedPoll() {
        batchedPolls.increment();
    }

    void hangupWatch() {
        hangupWatches.increment();
    }

    void pollOut() {
        pollsOut.increment();
    }

    void fallback(FallbackReason reason) {
        fallbacks[reason.ordinal()].increment();
    }

    void outcome(SpliceOutcome outcome) {
        outcomes[outcome.ordinal()].increment();
    }

    void sendBytes(SendMechanism mechanism, long n) {
        sendBytes[mechanism.ordinal()].add(n);
    }

    void send(SendMechanism mechanism) {
        sends[mechanism.ordinal()].increment();
    }

    void sendZcCopiedNotification() {
        sendZcCopied.increment();
    }

    // ---- getters (any thread) ----

    /** Bytes written to output sockets by splice transfers and pumps. */
    public long bytesSpliced() {
        return bytesSpliced.sum();
    }

    public long pipesInUse() {
        return pipesInUse.sum();
    }

    /** Pipes currently open (in use plus idle in the pools). */
    public long pipesOpen() {
        return pipesOpen.sum();
    }

    /** Sum of {@link SpliceSettings#maxPipes()} over the open splicers using these metrics. */
    public long pipesMax() {
        return pipesMax.sum();
    }

    public long pipesCreated() {
        return pipesCreated.sum();
    }

    /** Pipes closed instead of reused because a failed transfer left bytes in them that could not be drained. */
    public long pipesDiscarded() {
        return pipesDiscarded.sum();
    }

    /** POLL_ADDs submitted because a splice from the input socket returned EAGAIN. */
    public long eagainPollsIn() {
        return pollsIn.sum();
    }

    /** Batched waits cut short because the batch did not fill within the bound (the sender slowed or paused). */
    public long batchTimeouts() {
        return batchTimeouts.sum();
    }

    /** Transfers that stalled long enough to watch their output for the peer hanging up (see Splicer#transfer). */
    public long hangupWatches() {
        return hangupWatches.sum();
    }

    /** Of {@link #eagainPollsIn()}, those that waited for a batch of bytes (SO_RCVLOWAT above 1). */
    public long batchedPollsIn() {
        return batchedPolls.sum();
    }

    /** POLL_ADDs submitted because a splice, SEND_ZC or sendfile to the output socket found it full. */
    public long eagainPollsOut() {
        return pollsOut.sum();
    }

    public long fallbacks(FallbackReason reason) {
        return fallbacks[reason.ordinal()].sum();
    }

    public long fallbacksTotal() {
        long n = 0;
        for (LongAdder a : fallbacks) {
            n += a.sum();
        }
        return n;
    }

    public long transfers(SpliceOutcome outcome) {
        return outcomes[outcome.ordinal()].sum();
    }

    /** Transfers that ended in any failure (everything but {@link SpliceOutcome#COMPLETED}). */
    public long transfersFailed() {
        long n = 0;
        for (SpliceOutcome o : SpliceOutcome.values()) {
            if (o != SpliceOutcome.COMPLETED) {
                n += outcomes[o.ordinal()].sum();
            }
        }
        return n;
    }

    /** Bytes sent from shm segments by {@link Splicer#send} with this mechanism. */
    public long sendBytes(SendMechanism mechanism) {
        return sendBytes[mechanism.ordinal()].sum();
    }

    /** Sends started with this mechanism (after any fallback to {@link SendMechanism#WRITE}). */
    public long sends(SendMechanism mechanism) {
        return sends[mechanism.ordinal()].sum();
    }

    /** SEND_ZC notifications that said the kernel copied the bytes anyway (always the case on loopback). */
    public long sendZcCopied() {
        return sendZcCopied.sum();
    }

    /** Registers every counter as a meter with the caller's tags (e.g. {@code loop=3}). */
    public SpliceMetrics bindTo(MeterRegistry registry, Iterable<Tag> tags) {
        Objects.requireNonNull(registry, "registry");
        Tags base = Tags.of(tags == null ? Tags.empty() : tags);
        FunctionCounter.builder("sluice.splice.bytes", bytesSpliced, LongAdder::sum)
                .description("bytes spliced socket to socket").baseUnit("bytes").tags(base).register(registry);
        Gauge.builder("sluice.splice.pipes.in.use", pipesInUse, LongAdder::sum)
                .description("pipes held by running transfers").tags(base).register(registry);
        Gauge.builder("sluice.splice.pipes.open", pipesOpen, LongAdder::sum)
                .description("pipes open, in use or pooled").tags(base).register(registry);
        Gauge.builder("sluice.splice.pipes.max", pipesMax, LongAdder::sum)
                .description("configured pipe bound summed over loops").tags(base).register(registry);
        FunctionCounter.builder("sluice.splice.pipes.created", pipesCreated, LongAdder::sum)
                .description("pipes created").tags(base).register(registry);
        FunctionCounter.builder("sluice.splice.pipes.discarded", pipesDiscarded, LongAdder::sum)
                .description("pipes closed because a failed transfer left bytes in them").tags(base)
                .register(registry);
        FunctionCounter.builder("sluice.splice.eagain.polls", pollsIn, LongAdder::sum)
                .description("polls armed after EAGAIN").tags(base.and("direction", "in")).register(registry);
        FunctionCounter.builder("sluice.splice.eagain.polls", pollsOut, LongAdder::sum)
                .description("polls armed after EAGAIN").tags(base.and("direction", "out")).register(registry);
        FunctionCounter.builder("sluice.splice.batched.polls", batchedPolls, LongAdder::sum)
                .description("input polls that waited for a batch of bytes (SO_RCVLOWAT) rather than the first one")
                .tags(base).register(registry);
        FunctionCounter.builder("sluice.splice.batch.timeouts", batchTimeouts, LongAdder::sum)
                .description("batched input waits cut short by the hold bound (the sender slowed or paused)")
                .tags(base).register(registry);
        FunctionCounter.builder("sluice.splice.hangup.watches", hangupWatches, LongAdder::sum)
                .description("stalled transfers that started watching their output for the peer hanging up")
                .tags(base).register(registry);
        for (FallbackReason r : FallbackReason.values()) {
            FunctionCounter.builder("sluice.splice.fallbacks", fallbacks[r.ordinal()], LongAdder::sum)
                    .description("transfers the caller had to copy").tags(base.and("reason", r.tag()))
                    .register(registry);
        }
        for (SendMechanism m : SendMechanism.values()) {
            FunctionCounter.builder("sluice.splice.send.bytes", sendBytes[m.ordinal()], LongAdder::sum)
                    .description("bytes sent from shm segments, by mechanism").baseUnit("bytes")
                    .tags(base.and("mechanism", m.tag())).register(registry);
            FunctionCounter.builder("sluice.splice.sends", sends[m.ordinal()], LongAdder::sum)
                    .description("shm sends started, by mechanism").tags(base.and("mechanism", m.tag()))
                    .register(registry);
        }
        FunctionCounter.builder("sluice.splice.send.zc.copied", sendZcCopied, LongAdder::sum)
                .description("SEND_ZC notifications reporting that the kernel copied").tags(base)
                .register(registry);
        for (SpliceOutcome o : SpliceOutcome.values()) {
            FunctionCounter.builder("sluice.splice.transfers", outcomes[o.ordinal()], LongAdder::sum)
                    .description("splice transfers by outcome").tags(base.and("outcome", o.tag()))
                    .register(registry);
        }
        return this;
    }
}
