package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;

/**
 * Finds where a chunked body ends while its bytes pass through unchanged (RFC 9112 7.1). It accepts
 * only CRLF line ends and well-formed sizes: the bytes are forwarded verbatim, so anything an
 * upstream could read differently (bare LF, size overflow, junk after data) is refused instead.
 * Optionally reports the payload runs, for a client that cannot take chunked (HTTP/1.0).
 */
final class ChunkedScanner {
    /** Receives payload runs in de-chunk mode. */
    interface PayloadSink {
        void payload(ByteBuf buf, int index, int length);
    }

    private static final int MAX_LINE = 4096;
    private static final int MAX_TRAILERS = 64 * 1024;

    private enum State { SIZE, EXT, SIZE_LF, DATA, DATA_CR, DATA_LF, TRAILER_START, TRAILER, TRAILER_LF, LAST_LF, DONE }

    private final boolean request;
    private State state = State.SIZE;
    private long size;
    private int digits;
    private int lineLength;
    private int trailerBytes;
    private long payloadBytes;

    ChunkedScanner(boolean request) {
        this.request = request;
    }

    boolean done() {
        return state == State.DONE;
    }

    long payloadBytes() {
        return payloadBytes;
    }

    /** True while the scanner is inside chunk data: how many data bytes follow before framing again. */
    long dataRemaining() {
        return state == State.DATA ? size : 0;
    }

    /** {@code n} (at most {@link #dataRemaining}) data bytes of the current chunk moved without being scanned (spliced). */
    void dataMoved(long n) {
        if (n <= 0) {
            return;
        }
        if (state != State.DATA || n > size) {
            throw new IllegalStateException("moved " + n + " data bytes with " + dataRemaining() + " left in " + state);
        }
        size -= n;
        payloadBytes += n;
        if (size == 0) {
            state = State.DATA_CR;
        }
    }

    /**
     * Scans {@code buf[from, to)}; returns how many of those bytes belong to the body (fewer than
     * {@code to - from} only when the body ends inside the range).
     */
    int scan(ByteBuf buf, int from, int to, PayloadSink sink) throws ProxyException {
        int i = from;
        while (i < to && state != State.DONE) {
            switch (state) {
                case DATA -> {
                    int n = (int) Math.min(size, to - i);
                    if (sink != null) {
                        sink.payload(buf, i, n);
                    }
                    i += n;
                    size -= n;
                    payloadBytes += n;
                    if (size == 0) {
                        state = State.DATA_CR;
                    }
                }
                default -> {
                    step(buf.getByte(i));
                    i++;
                }
            }
        }
        return i - from;
    }

    private void step(byte b) throws ProxyException {
        switch (state) {
            case SIZE -> {
                int d = hex(b);
                if (d >= 0) {
                    if (++digits > 15) {
                        throw bad("chunk size too large");
                    }
                    size = size << 4 | d;
                    line();
                } else if (digits == 0) {
                    throw bad("chunk size missing");
                } else if (b == '\r') {
                    state = State.SIZE_LF;
                } else if (b == ';' || b == ' ' || b == '\t') {
                    state = State.EXT;
                    line();
                } else {
                    throw bad("invalid character in chunk size");
                }
            }
            case EXT -> {
                if (b == '\r') {
                    state = State.SIZE_LF;
                } else if ((b < 0x20 && b != '\t') || b == 0x7f) {
                    throw bad("invalid character in chunk extension");
                } else {
                    line();
                }
            }
            case SIZE_LF -> {
                if (b != '\n') {
                    throw bad("chunk size line not ended by CRLF");
                }
                lineLength = 0;
                digits = 0;
                state = size == 0 ? State.TRAILER_START : State.DATA;
            }
            case DATA_CR -> {
                if (b != '\r') {
                    throw bad("chunk data not followed by CRLF");
                }
                state = State.DATA_LF;
            }
            case DATA_LF -> {
                if (b != '\n') {
                    throw bad("chunk data not followed by CRLF");
                }
                state = State.SIZE;
            }
            case TRAILER_START -> {
                if (b == '\r') {
                    state = State.LAST_LF;
                } else if (b == ' ' || b == '\t') {
                    throw bad("obsolete line folding in trailer section");
                } else {
                    trailer(b);
                    state = State.TRAILER;
                }
            }
            case TRAILER -> {
                if (b == '\r') {
                    state = State.TRAILER_LF;
                } else {
                    trailer(b);
                }
            }
            case TRAILER_LF -> {
                if (b != '\n') {
                    throw bad("trailer line not ended by CRLF");
                }
                state = State.TRAILER_START;
            }
            case LAST_LF -> {
                if (b != '\n') {
                    throw bad("chunked body not ended by CRLF");
                }
                state = State.DONE;
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    private void line() throws ProxyException {
        if (++lineLength > MAX_LINE) {
            throw bad("chunk size line longer than " + MAX_LINE + " bytes");
        }
    }

    private void trailer(byte b) throws ProxyException {
        if ((b < 0x20 && b != '\t') || b == 0x7f) {
            throw bad("invalid character in trailer section");
        }
        if (++trailerBytes > MAX_TRAILERS) {
            throw bad("trailer section larger than " + MAX_TRAILERS + " bytes");
        }
    }

    private ProxyException bad(String reason) {
        return request ? new ProxyException(Failure.BAD_REQUEST, reason)
                : new ProxyException(Failure.BAD_GATEWAY, "upstream: " + reason);
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }
}
