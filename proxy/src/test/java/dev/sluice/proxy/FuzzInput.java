package dev.sluice.proxy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The layout every fuzz target here reads its input in: a fixed number of parameter bytes first (limits, where the
 * message is cut, options), then the message itself. A seed file is therefore the parameter bytes followed by an
 * HTTP head or body as it would arrive; an input shorter than the parameters reads as zero parameters and an empty
 * message.
 */
final class FuzzInput {
    private final byte[] params;
    final byte[] message;

    FuzzInput(byte[] input, int paramCount) {
        params = Arrays.copyOf(input, paramCount);
        message = input.length > paramCount ? Arrays.copyOfRange(input, paramCount, input.length) : new byte[0];
    }

    /** Parameter {@code i} as 0-255. */
    int param(int i) {
        return params[i] & 0xff;
    }

    /**
     * The message cut into consecutive pieces, as reads would bring it: the lengths of the first pieces are
     * parameters {@code [from, from + count)} (0 = no cut there), the rest of the message is the last piece. The
     * pieces together are always the whole message, and none is empty.
     */
    List<byte[]> pieces(int from, int count) {
        List<byte[]> out = new ArrayList<>();
        int pos = 0;
        for (int i = from; i < from + count && pos < message.length; i++) {
            int len = Math.min(param(i), message.length - pos);
            if (len > 0) {
                out.add(Arrays.copyOfRange(message, pos, pos + len));
                pos += len;
            }
        }
        if (pos < message.length) {
            out.add(Arrays.copyOfRange(message, pos, message.length));
        }
        return out;
    }

    /** Bytes as a Java string literal's contents (for assertion messages). */
    static String show(byte[] b) {
        StringBuilder s = new StringBuilder(b.length + 16).append('"');
        for (byte x : b) {
            int c = x & 0xff;
            switch (c) {
                case '\r' -> s.append("\\r");
                case '\n' -> s.append("\\n");
                case '\t' -> s.append("\\t");
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        s.append(String.format("\\u%04x", c));
                    } else {
                        s.append((char) c);
                    }
                }
            }
        }
        return s.append('"').toString();
    }
}
