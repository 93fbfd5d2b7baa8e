package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * Finds where a chunked body ends while its bytes pass through (RFC 9112 7.1). It accepts only what the grammar
 * allows: CRLF line ends, a hex size that fits, chunk extensions as {@code ;name[=token|"quoted"]} with BWS only
 * where 7.1.1 puts it, and trailer fields checked like header fields. The framing is forwarded verbatim, so anything
 * an upstream could read differently (bare LF, a size overflow, junk after the size or the data) is refused instead.
 * <p>
 * The one part not always forwarded verbatim is the trailer section: fields that frame, route or control the
 * connection ({@link #droppedFromTrailers}) are removed from it. A section that needs no change still passes
 * through as it came; otherwise it is held back (at most {@link #MAX_TRAILERS} bytes) and sent rebuilt
 * ({@link #rewrittenTrailers}) once the body is complete.
 * <p>
 * Optionally reports the payload runs, for a client that cannot take chunked (HTTP/1.0); trailers are then dropped.
 */
final class ChunkedScanner {
    /** Receives payload runs in de-chunk mode. */
    interface PayloadSink {
        void payload(ByteBuf buf, int index, int length);
    }

    private static final int MAX_LINE = 4096;
    static final int MAX_TRAILERS = 64 * 1024;
    private static final byte[] CRLF = {'\r', '\n'};

    private enum State {
        SIZE, SIZE_BWS, EXT_NAME_START, EXT_NAME, EXT_NAME_BWS, EXT_VALUE_START, EXT_TOKEN, EXT_QUOTED, EXT_QUOTED_PAIR,
        EXT_QUOTED_END, SIZE_LF, DATA, DATA_CR, DATA_LF, TRAILER_START, TRAILER, TRAILER_LF, LAST_LF, DONE
    }

    private final boolean request;
    private State state = State.SIZE;
    private long size;
    private int digits;
    private int lineLength;
    private long payloadBytes;

    /** The trailer field line being read (without its CRLF). */
    private byte[] line = new byte[0];
    private int lineUsed;
    /** Trailer section bytes seen so far, against {@link #MAX_TRAILERS}. */
    private int trailerBytes;
    /** The kept trailer field lines, each with its CRLF, for a rebuilt section. */
    private byte[] kept = new byte[0];
    private int keptUsed;
    /** A trailer field was dropped, or the section started in an earlier scan: it must be sent rebuilt. */
    private boolean rewrite;
    /** Of the bytes consumed by the last {@link #scan}, how many pass through as they are (a prefix). */
    private int verbatim;

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
     * Scans {@code buf[from, to)}; returns how many of those bytes belong to the body (fewer than {@code to - from}
     * only when the body ends inside the range). Of those, the first {@link #verbatim()} are forwarded as they are;
     * the rest are trailer section bytes held back for {@link #rewrittenTrailers()}.
     */
    int scan(ByteBuf buf, int from, int to, PayloadSink sink) throws ProxyException {
        int i = from;
        int holdFrom = inTrailers() ? from : -1;
        if (holdFrom >= 0) {
            rewrite = true; // part of the section went by in an earlier scan, held: only a rebuilt one can follow
        }
        while (i < to && state != State.DONE) {
            if (state == State.DATA) {
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
            } else {
                step(buf.getByte(i));
                i++;
                if (holdFrom < 0 && state == State.TRAILER_START) {
                    holdFrom = i; // the last chunk's line went through; the trailer section starts here
                }
            }
        }
        boolean passThrough = holdFrom < 0 || (state == State.DONE && !rewrite);
        verbatim = passThrough ? i - from : holdFrom - from;
        return i - from;
    }

    /** Of the bytes the last {@link #scan} consumed, how many to forward as they are. */
    int verbatim() {
        return verbatim;
    }

    /**
     * Once {@link #done()}: the trailer section to send after the verbatim bytes (the kept fields and the final CRLF)
     * when it had to change, or null when it went through as it came.
     */
    byte[] rewrittenTrailers() {
        if (state != State.DONE || !rewrite) {
            return null;
        }
        byte[] out = Arrays.copyOf(kept, keptUsed + 2);
        out[keptUsed] = '\r';
        out[keptUsed + 1] = '\n';
        return out;
    }

    private boolean inTrailers() {
        return state == State.TRAILER_START || state == State.TRAILER || state == State.TRAILER_LF
                || state == State.LAST_LF;
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
                } else if (b == ';') {
                    state = State.EXT_NAME_START;
                    line();
                } else if (isWs(b)) {
                    state = State.SIZE_BWS;
                    line();
                } else {
                    throw bad("invalid character in chunk size");
                }
            }
            // BWS is allowed only before ';' and around '=': "5 junk", "5 " and "5;a b" are refused
            case SIZE_BWS, EXT_NAME_BWS -> {
                line();
                if (b == ';') {
                    state = State.EXT_NAME_START;
                } else if (b == '=' && state == State.EXT_NAME_BWS) {
                    state = State.EXT_VALUE_START;
                } else if (!isWs(b)) {
                    throw bad("invalid character in chunk extension");
                }
            }
            case EXT_NAME_START -> {
                line();
                if (HeadParser.isToken(b)) {
                    state = State.EXT_NAME;
                } else if (!isWs(b)) {
                    throw bad("chunk extension without a name");
                }
            }
            // a name or token value goes on, or ends like a quoted value: CR, ';' or BWS
            case EXT_NAME, EXT_TOKEN, EXT_QUOTED_END -> {
                if (b == '\r') {
                    state = State.SIZE_LF;
                    return;
                }
                line();
                if (b == ';') {
                    state = State.EXT_NAME_START;
                } else if (b == '=' && state == State.EXT_NAME) {
                    state = State.EXT_VALUE_START;
                } else if (isWs(b)) {
                    state = state == State.EXT_NAME ? State.EXT_NAME_BWS : State.SIZE_BWS;
                } else if (state == State.EXT_QUOTED_END || !HeadParser.isToken(b)) {
                    throw bad("invalid character in chunk extension");
                }
            }
            case EXT_VALUE_START -> {
                line();
                if (b == '"') {
                    state = State.EXT_QUOTED;
                } else if (HeadParser.isToken(b)) {
                    state = State.EXT_TOKEN;
                } else if (!isWs(b)) {
                    throw bad("chunk extension without a value");
                }
            }
            case EXT_QUOTED -> {
                line();
                if (b == '"') {
                    state = State.EXT_QUOTED_END;
                } else if (b == '\\') {
                    state = State.EXT_QUOTED_PAIR;
                } else if (!HeadParser.isFieldText(b)) { // qdtext: obs-text included
                    throw bad("invalid character in chunk extension value");
                }
            }
            case EXT_QUOTED_PAIR -> {
                line();
                if (!HeadParser.isFieldText(b)) {
                    throw bad("invalid character in chunk extension value");
                }
                state = State.EXT_QUOTED;
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
                trailerByte();
                if (b == '\r') {
                    state = State.LAST_LF;
                } else {
                    lineUsed = 0;
                    append(b);
                    state = State.TRAILER;
                }
            }
            case TRAILER -> {
                trailerByte();
                if (b == '\r') {
                    state = State.TRAILER_LF;
                } else {
                    append(b);
                }
            }
            case TRAILER_LF -> {
                trailerByte();
                if (b != '\n') {
                    throw bad("trailer line not ended by CRLF");
                }
                trailerLine();
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

    /** A complete trailer field line: checked like a header field, then kept or dropped. */
    private void trailerLine() throws ProxyException {
        int colon = HeadParser.indexOf(line, 0, lineUsed, (byte) ':');
        String error = HeadParser.fieldLineError(line, 0, colon, lineUsed, "trailer section");
        if (error != null) {
            throw bad(error);
        }
        if (droppedFromTrailers(new String(line, 0, colon, java.nio.charset.StandardCharsets.ISO_8859_1))) {
            rewrite = true;
            return;
        }
        int need = keptUsed + lineUsed + 2;
        if (kept.length < need) {
            kept = Arrays.copyOf(kept, Math.max(need, kept.length * 2));
        }
        System.arraycopy(line, 0, kept, keptUsed, lineUsed);
        System.arraycopy(CRLF, 0, kept, keptUsed + lineUsed, 2);
        keptUsed = need;
    }

    /**
     * Fields that must not arrive in a trailer section (RFC 9110 6.5.1): framing (Content-Length,
     * Transfer-Encoding), routing (Host), and connection control (Connection and the hop-by-hop fields, Trailer,
     * Proxy-*). A recipient that merged them into the header section would read the message differently.
     */
    static boolean droppedFromTrailers(String name) {
        return HeaderRules.neverHopByHop(name) || name.equalsIgnoreCase("Connection") || name.equalsIgnoreCase("Keep-Alive")
                || name.equalsIgnoreCase("TE") || name.equalsIgnoreCase("Trailer") || name.equalsIgnoreCase("Upgrade")
                || name.regionMatches(true, 0, "Proxy-", 0, 6);
    }

    private void append(byte b) {
        if (lineUsed == line.length) {
            line = Arrays.copyOf(line, Math.max(64, line.length * 2));
        }
        line[lineUsed++] = b;
    }

    private void line() throws ProxyException {
        if (++lineLength > MAX_LINE) {
            throw bad("chunk size line longer than " + MAX_LINE + " bytes");
        }
    }

    private void trailerByte() throws ProxyException {
        if (++trailerBytes > MAX_TRAILERS) {
            throw bad("trailer section larger than " + MAX_TRAILERS + " bytes");
        }
    }

    private ProxyException bad(String reason) {
        return request ? new ProxyException(Failure.BAD_REQUEST, reason)
                : new ProxyException(Failure.BAD_GATEWAY, "upstream: " + reason);
    }

    private static boolean isWs(byte b) {
        return b == ' ' || b == '\t';
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
