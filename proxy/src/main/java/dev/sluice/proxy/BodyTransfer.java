package dev.sluice.proxy;

import dev.sluice.proxy.ProxyMetrics.Mechanism;
import dev.sluice.splice.SpliceOutcome;
import dev.sluice.splice.SpliceTransfer;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

/**
 * The one place body bytes move between two connections, in one direction. Framing decides where the
 * body ends; bytes pass through verbatim (chunk framing included) unless de-chunking for an HTTP/1.0
 * client. Backpressure: the source is read again only after everything written so far has been
 * accepted by the destination (AUTO_READ is off on both channels), so memory stays bounded by one read.
 * Fixed-length remainders, and the data of chunks (their size lines are copied and checked), go through the
 * {@link ZeroCopy} splice path when the route allows it.
 */
final class BodyTransfer implements ChunkedScanner.PayloadSink, ZeroCopy.Callback {
    enum Framing { NONE, LENGTH, CHUNKED, UNTIL_CLOSE }

    interface Owner {
        void bodyProgress(BodyTransfer t);

        void bodyDone(BodyTransfer t);

        void bodyFailed(BodyTransfer t, ProxyException cause);
    }

    final Channel src;
    final Channel dst;
    final Framing framing;
    private final boolean request;
    private final Owner owner;
    private final long limit;
    private final ChunkedScanner scanner;
    private final boolean dechunk;
    private final ZeroCopy zeroCopy;
    private final ChannelFutureListener writeListener = this::writeDone;

    private long remaining;
    /** Body bytes (as on the wire from the source) moved so far, by any mechanism. */
    long bytes;
    long splicedBytes;
    private int pendingWrites;
    private boolean complete;
    private boolean finished;
    private SpliceTransfer splice;
    private Runnable afterCancel;
    /** The next copy read starts with a chunk size line: read it small, so the chunk's data is left to splice. */
    private boolean sizeLineNext;

    /**
     * @param length for LENGTH framing the body size
     * @param limit  fail with 413 when a request body exceeds this (0 = none)
     * @param zeroCopy the loop's splice path, or null to copy
     */
    BodyTransfer(Channel src, Channel dst, Framing framing, long length, boolean request, boolean dechunk,
            long limit, ZeroCopy zeroCopy, Owner owner) {
        this.src = src;
        this.dst = dst;
        this.framing = framing;
        this.remaining = length;
        this.request = request;
        this.dechunk = dechunk;
        this.limit = limit;
        this.zeroCopy = zeroCopy;
        this.owner = owner;
        this.scanner = framing == Framing.CHUNKED ? new ChunkedScanner(request) : null;
        this.complete = framing == Framing.NONE || (framing == Framing.LENGTH && length == 0);
    }

    boolean isFinished() {
        return finished;
    }

    boolean isSplicing() {
        return splice != null;
    }

    /** Body bytes moved so far, including those of a splice still running. */
    long bytesSoFar() {
        return splice == null ? bytes : bytes + splice.bytesMoved();
    }

    Mechanism mechanism() {
        return splicedBytes > 0 ? Mechanism.SPLICE : Mechanism.COPY;
    }

    /** True when bytes followed the body's end in a read (junk from an upstream, or a pipelined request). */
    boolean trailingBytes;

    /**
     * Writes {@code head} (may be null) first, then the body bytes that were read together with the
     * head (consumed from {@code preread}); nothing is spliced before both were accepted.
     */
    void start(ByteBuf head, ByteBuf preread) {
        if (head != null) {
            // Flushed with the first body bytes when some came with the head: one writev, one segment, so the peer
            // wakes once for the head and those bytes instead of twice.
            write(head, false);
        }
        if (preread != null && preread.isReadable()) {
            offer(preread);
        } else if (pendingWrites == 0) {
            next();
        }
        if (head != null) {
            dst.flush(); // no-op when offer() flushed already
        }
    }

    /**
     * Offers bytes read from the source; consumes those that belong to the body and leaves any
     * bytes after the body's end in {@code buf} (a pipelined request, or junk from an upstream).
     */
    void offer(ByteBuf buf) {
        if (finished || complete) {
            return;
        }
        int readable = buf.readableBytes();
        int take;
        try {
            switch (framing) {
                case LENGTH -> {
                    take = (int) Math.min(remaining, readable);
                    remaining -= take;
                    complete = remaining == 0;
                }
                case CHUNKED -> {
                    int from = buf.readerIndex();
                    take = scanner.scan(buf, from, from + readable, dechunk ? this : null);
                    complete = scanner.done();
                }
                case UNTIL_CLOSE -> take = readable;
                default -> take = 0;
            }
        } catch (ProxyException e) {
            fail(e);
            return;
        }
        if (limit > 0 && bytes + take > limit) {
            fail(new ProxyException(Failure.PAYLOAD_TOO_LARGE, "request body larger than " + limit + " bytes"));
            return;
        }
        bytes += take;
        trailingBytes |= complete && take < readable;
        if (take > 0) {
            if (dechunk) {
                buf.skipBytes(take); // payload runs were written by payload()
            } else if (framing == Framing.CHUNKED) {
                int verbatim = scanner.verbatim(); // all but a trailer section that is held back to be rebuilt
                if (verbatim > 0) {
                    write(buf.readRetainedSlice(verbatim));
                }
                buf.skipBytes(take - verbatim);
                byte[] trailers = complete ? scanner.rewrittenTrailers() : null;
                if (trailers != null) {
                    write(dst.alloc().buffer(trailers.length).writeBytes(trailers));
                }
            } else {
                write(buf.readRetainedSlice(take));
            }
            owner.bodyProgress(this);
        }
        if (pendingWrites == 0) {
            next();
        }
    }

    @Override
    public void payload(ByteBuf buf, int index, int length) {
        write(buf.retainedSlice(index, length));
    }

    /** The source reached EOF. Ends a close-delimited body; anything else is cut short. */
    void sourceClosed() {
        if (finished) {
            return;
        }
        if (framing == Framing.UNTIL_CLOSE) {
            complete = true;
            if (pendingWrites == 0) {
                next();
            }
        } else if (!complete) {
            fail(new ProxyException(request ? Failure.BAD_REQUEST : Failure.BAD_GATEWAY,
                    (request ? "client" : "upstream") + " closed the connection " + progress()));
        }
    }

    private String progress() {
        return framing == Framing.LENGTH ? "with " + remaining + " body bytes outstanding" : "before the body ended";
    }

    /**
     * Stops moving bytes (the exchange is being torn down); no owner callback follows. Returns true
     * when a splice was in flight: {@code then} runs once the kernel no longer refers to either
     * socket, and only then may they be closed (a closed fd number can be reused at once).
     */
    boolean cancel(Runnable then) {
        finished = true;
        if (splice != null) {
            afterCancel = then;
            splice.cancel();
            return true;
        }
        return false;
    }

    private void write(ByteBuf b) {
        write(b, true);
    }

    private void write(ByteBuf b, boolean flush) {
        pendingWrites++;
        (flush ? dst.writeAndFlush(b) : dst.write(b)).addListener(writeListener);
    }

    private void writeDone(ChannelFuture f) {
        pendingWrites--;
        if (finished) {
            return;
        }
        if (!f.isSuccess()) {
            fail(new ProxyException(request ? Failure.BAD_GATEWAY : Failure.BAD_REQUEST,
                    (request ? "upstream" : "client") + " write failed: " + f.cause()));
            return;
        }
        if (pendingWrites == 0) {
            next();
        }
    }

    /** Everything written so far was accepted: finish, splice the rest, or read more. */
    private void next() {
        if (finished) {
            return;
        }
        if (complete) {
            finished = true;
            ReadSizes.head(src); // what src sends next starts with a head
            owner.bodyDone(this);
            return;
        }
        if (zeroCopy != null && splice == null) {
            long count = spliceable();
            if (count > 0) {
                // a response's client leaving while the origin stalls ends the exchange, as it does when copying
                splice = zeroCopy.start(src, dst, count, !request, this);
                if (splice != null) {
                    return;
                }
            }
        }
        readBody();
    }

    /**
     * Bytes the splice path may move next: a fixed-length remainder, or what is left of the current chunk's data
     * (not when de-chunking, nor past a request body limit, which copying then reports).
     */
    private long spliceable() {
        if (framing == Framing.LENGTH) {
            return remaining;
        }
        if (framing != Framing.CHUNKED || dechunk) {
            return 0;
        }
        long data = scanner.dataRemaining();
        return limit > 0 && bytes + data > limit ? 0 : data;
    }

    /** Copies: read the next body bytes from the source, in the sizes learnt for bodies. */
    private void readBody() {
        if (sizeLineNext) {
            sizeLineNext = false;
            ReadSizes.head(src); // a chunk size line, and a little data the next splice does not need
        } else {
            ReadSizes.body(src);
        }
        src.read();
    }

    @Override
    public void spliced(long moved, SpliceOutcome outcome, Throwable cause) {
        splice = null;
        bytes += moved;
        splicedBytes += moved;
        if (framing == Framing.CHUNKED) {
            scanner.dataMoved(moved);
            sizeLineNext = true;
        } else {
            remaining -= moved;
        }
        if (finished) {
            Runnable then = afterCancel;
            afterCancel = null;
            if (then != null) {
                then.run();
            }
            return;
        }
        if (moved > 0) {
            owner.bodyProgress(this);
        }
        if (outcome == SpliceOutcome.REFUSED) {
            readBody(); // nothing moved and nothing lost: copy the rest instead
            return;
        }
        if (outcome != SpliceOutcome.COMPLETED) {
            fail(spliceFailure(outcome, cause));
            return;
        }
        complete = framing == Framing.LENGTH && remaining == 0; // a chunk's data is never a body's end
        next();
    }

    private ProxyException spliceFailure(SpliceOutcome outcome, Throwable cause) {
        return switch (outcome) {
            case PREMATURE_EOF -> new ProxyException(request ? Failure.BAD_REQUEST : Failure.BAD_GATEWAY,
                    (request ? "client" : "upstream") + " closed the connection " + progress());
            // the words the copy path logs when Netty sees the client's FIN (Exchange.clientClosed)
            case OUTPUT_CLOSED -> new ProxyException(Failure.BAD_REQUEST, (request ? "upstream" : "client")
                    + " closed the connection during the " + (request ? "request body" : "response"));
            case TIMEOUT -> new ProxyException(Failure.GATEWAY_TIMEOUT, "idle timeout: no body bytes moved (splice)");
            default -> new ProxyException(request ? Failure.BAD_GATEWAY : Failure.BAD_REQUEST,
                    "splice failed: " + cause.getMessage());
        };
    }

    private void fail(ProxyException e) {
        if (finished) {
            return;
        }
        finished = true;
        owner.bodyFailed(this, e);
    }
}
