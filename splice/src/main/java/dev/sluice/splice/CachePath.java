package dev.sluice.splice;

import dev.sluice.shm.Extent;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.util.Objects;

/**
 * A splicer's entry points for the cache, whose bytes live in shm extents: {@link Splicer#send} (a stored region to a
 * socket, by one of the four {@link SendMechanism}s, falling back to a write) and {@link Splicer#tee} (a socket's
 * bytes into an extent while forwarding them). The pass-through transfers between two sockets stay in the
 * {@link Splicer}, whose slots, pipes and fallback record these share. One per splicer, confined to its loop; the
 * contracts are documented on the public methods.
 */
final class CachePath {
    private final Splicer splicer;
    private final EventLoop loop;
    private final SpliceMetrics metrics;
    private final PipePool pool;
    private final SlotTable slots;

    CachePath(Splicer splicer) {
        this.splicer = splicer;
        this.loop = splicer.eventLoop();
        this.metrics = splicer.metrics;
        this.pool = splicer.pool;
        this.slots = splicer.slots;
    }

    SpliceTransfer send(Extent extent, long position, long length, Channel out, SendMechanism mechanism,
                        long idleTimeoutNanos, SpliceCallback cb) {
        Objects.requireNonNull(extent, "extent");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(mechanism, "mechanism");
        Objects.requireNonNull(cb, "cb");
        splicer.checkInLoop();
        if (position < 0 || length < 0 || position > extent.length() - length) {
            throw new IllegalArgumentException(String.format(
                    "range [%d, +%d) is not inside the extent of %d bytes", position, length, extent.length()));
        }
        if (idleTimeoutNanos < 0) {
            throw new IllegalArgumentException(
                    String.format("idleTimeoutNanos must be >= 0, was %d", idleTimeoutNanos));
        }
        if (out.eventLoop() != loop) {
            throw new IllegalArgumentException(String.format(
                    "out must be registered on the splicer's loop %s, is on %s", loop, out.eventLoop()));
        }
        if (length == 0) {
            CompletedTransfer done = new CompletedTransfer(cb);
            metrics.send(mechanism);
            loop.execute(done);
            return done;
        }
        extent.retain();
        boolean started = false;
        try {
            SpliceTransfer t = null;
            if (mechanism != SendMechanism.WRITE) {
                FallbackReason why = zeroCopyObstacle(extent, out, mechanism);
                t = why == null ? sendZeroCopy(extent, position, length, out, mechanism, idleTimeoutNanos, cb)
                        : splicer.fallback(why);
            }
            if (t == null) {
                t = ExtentWrite.start(metrics, extent, position, length, out, cb);
            }
            started = true;
            return t;
        } finally {
            if (!started) {
                extent.release();
            }
        }
    }

    private FallbackReason zeroCopyObstacle(Extent extent, Channel out, SendMechanism mechanism) {
        FallbackReason refused = splicer.refusal();
        if (refused != null) {
            return refused;
        }
        if (!(out instanceof IoUringSocketChannel) || !out.isActive()) {
            return FallbackReason.CHANNEL;
        }
        if (mechanism == SendMechanism.SEND_ZC ? !extent.slice().isNative() || !NettyUring.SEND_ZC_SUPPORTED
                : extent.store().fd() < 0) {
            return FallbackReason.NO_ZERO_COPY_SOURCE;
        }
        return null;
    }

    /**
     * SEND_ZC, SPLICE or SENDFILE on our own submissions and syscalls; null, the fallback recorded and counted, when
     * it cannot start.
     */
    private SpliceTransfer sendZeroCopy(Extent extent, long position, long length, Channel out, SendMechanism mechanism,
                                        long idleTimeoutNanos, SpliceCallback cb) {
        ChannelLease outLease = ChannelLease.of(out, ((UnixChannel) out).fd().intValue());
        if (outLease.writing) {
            throw new IllegalStateException("a splice or send is already writing to " + out);
        }
        if (!outLease.makeNonBlocking()) {
            return splicer.fallback(FallbackReason.CHANNEL);
        }
        if (slots.isFull()) {
            return splicer.fallback(FallbackReason.POOL_EXHAUSTED);
        }
        Runnable release = extent::release;
        if (mechanism == SendMechanism.SENDFILE) {
            // Before the first sendfile, as for a splice: the socket buffers keep references to the file's pages
            // after the call returns, so the store must punch these pages out before reusing them.
            extent.markSpliced();
            metrics.send(SendMechanism.SENDFILE);
            SendfileSend s = new SendfileSend(splicer, slots.take(), extent.store().fd(),
                    extent.offset() + position, length, out, outLease, idleTimeoutNanos, cb, release);
            slots.occupy(s.slot, s);
            s.start();
            return s;
        }
        if (mechanism == SendMechanism.SEND_ZC) {
            long address = extent.slice().address() + position;
            metrics.send(SendMechanism.SEND_ZC);
            TransferSpec.Source memory = new TransferSpec.Source.Memory(address);
            return splicer.run(new Transfer(splicer, slots.take(),
                    new TransferSpec(memory, out, outLease, length, idleTimeoutNanos, false, cb, release), null));
        }
        Pipe pipe = pool.acquire();
        if (pipe == null) {
            return splicer.fallback(pool.lastFailure());
        }
        // Before the first splice: the store must punch these pages out before reusing them (skbs keep them).
        extent.markSpliced();
        metrics.send(SendMechanism.SPLICE);
        TransferSpec.Source file = new TransferSpec.Source.StoreFile(extent.store().fd(), extent.offset() + position);
        return splicer.run(new Transfer(splicer, slots.take(),
                new TransferSpec(file, out, outLease, length, idleTimeoutNanos, false, cb, release), pipe));
    }

    TeeFill tee(Channel in, Extent extent, long position, long count, Channel out, TeeFill.Listener listener) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(extent, "extent");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(listener, "listener");
        splicer.checkInLoop();
        if (position < 0 || count <= 0 || position > extent.length() - count) {
            throw new IllegalArgumentException(String.format(
                    "range [%d, +%d) is not a non-empty range of the extent of %d bytes", position, count,
                    extent.length()));
        }
        FallbackReason refused = splicer.refusal();
        if (refused != null) {
            return splicer.fallback(refused);
        }
        if (extent.store().fd() < 0) {
            return splicer.fallback(FallbackReason.NO_ZERO_COPY_SOURCE);
        }
        if (in.eventLoop() != loop || out.eventLoop() != loop || in == out) {
            throw new IllegalArgumentException("in and out must be two channels of the splicer's loop " + loop);
        }
        if (!Splicer.canSplice(in) || !Splicer.canSplice(out)) {
            return splicer.fallback(FallbackReason.CHANNEL);
        }
        ChannelLease inLease = ChannelLease.of(in, ((UnixChannel) in).fd().intValue());
        ChannelLease outLease = ChannelLease.of(out, ((UnixChannel) out).fd().intValue());
        if (inLease.reading || outLease.writing) {
            throw new IllegalStateException("a splice is already using " + (inLease.reading ? in : out));
        }
        if (inLease.rdhup == ChannelLease.RDHUP_DISARMING
                || (inLease.rdhup == ChannelLease.RDHUP_NETTY && NettyUring.pollRdhupId(in) == 0)) {
            // Netty's POLLRDHUP fired (the peer half-closed, Netty reads the rest) or is being taken by another.
            return splicer.fallback(FallbackReason.PEER_CLOSING);
        }
        if (!inLease.makeNonBlocking() || !outLease.makeNonBlocking()) {
            return splicer.fallback(FallbackReason.CHANNEL);
        }
        if (slots.isFull()) {
            return splicer.fallback(FallbackReason.POOL_EXHAUSTED);
        }
        Pipe inPipe = pool.acquire();
        if (inPipe == null) {
            return splicer.fallback(pool.lastFailure());
        }
        Pipe outPipe = pool.acquire();
        if (outPipe == null) {
            pool.release(inPipe, 0);
            return splicer.fallback(pool.lastFailure());
        }
        TeeFill t = new TeeFill(splicer, slots.take(), in, inLease, out, outLease, extent.store().fd(),
                extent.offset() + position, count, inPipe, outPipe, listener);
        slots.occupy(t.slot, t);
        t.start();
        return t;
    }
}
