package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.ArrayList;

/** A parsed request or response head. Header names keep their case; lookups ignore it. */
final class HttpHead implements dev.sluice.cache.Fields {
    // request
    String method;
    String target;
    // response
    int status;
    String reasonPhrase;
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and other 1.x, treated as 1.1). */
    int minorVersion;
    /**
     * Bytes the head took on the wire, from its first line to its empty line (empty lines before a request line not
     * counted). Only the fuzz targets read it: they check that the parser consumed exactly the head.
     */
    int wireLength;

    final ArrayList<String> names = new ArrayList<>(16);
    final ArrayList<String> values = new ArrayList<>(16);

    int size() {
        return names.size();
    }

    String get(String name) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                return values.get(i);
            }
        }
        return null;
    }

    @Override
    public int count(String name) {
        return dev.sluice.cache.Fields.count(names, name);
    }

    /** All values of a header joined with ", " (the list form of RFC 9110 5.3), or null. */
    @Override
    public String joined(String name) {
        return dev.sluice.cache.Fields.joined(names, values, name);
    }

    void add(String name, String value) {
        names.add(name);
        values.add(value);
    }

    void remove(String name) {
        for (int i = names.size() - 1; i >= 0; i--) {
            if (names.get(i).equalsIgnoreCase(name)) {
                names.remove(i);
                values.remove(i);
            }
        }
    }

    void set(String name, String value) {
        remove(name);
        add(name, value);
    }

    /** Does a comma-separated header contain this token (case-insensitive)? */
    boolean hasToken(String name, String token) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                for (String t : values.get(i).split(",")) {
                    if (t.trim().equalsIgnoreCase(token)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /**
     * The request head as bytes: request line (always HTTP/1.1 upstream) and headers, encoded into a
     * per-thread scratch array and copied into the buffer once (per-byte writes into a direct buffer
     * pay a bounds and session check each).
     */
    ByteBuf encodeRequest(ByteBufAllocator alloc) {
        return encodeRequest(alloc, null);
    }

    /** The request head as bytes, with {@code host} (if not null) as a Host field after the others. */
    ByteBuf encodeRequest(ByteBufAllocator alloc, String host) {
        Scratch o = Scratch.get();
        o.ascii(method).put(' ').ascii(target).ascii(" HTTP/1.1\r\n");
        encodeFields(o);
        if (host != null) {
            o.field("Host", host);
        }
        return o.ascii("\r\n").toBuffer(alloc);
    }

    /**
     * A request head as bytes: {@code target} instead of this head's, this head's fields but those {@code keep}
     * refuses, then {@code extra}'s (several values of a name: one line each).
     */
    ByteBuf encodeRequest(ByteBufAllocator alloc, String target, java.util.function.Predicate<String> keep,
            java.util.Map<String, java.util.List<String>> extra) {
        Scratch o = Scratch.get();
        o.ascii(method).put(' ').ascii(target).ascii(" HTTP/1.1\r\n");
        for (int i = 0; i < names.size(); i++) {
            if (keep.test(names.get(i))) {
                o.field(names.get(i), values.get(i));
            }
        }
        extra.forEach((name, list) -> list.forEach(v -> o.field(name, v)));
        return o.ascii("\r\n").toBuffer(alloc);
    }

    /** The status line (as HTTP/1.1) and headers. */
    ByteBuf encodeResponse(ByteBufAllocator alloc) {
        Scratch o = Scratch.get();
        o.ascii("HTTP/1.1 ").put((char) ('0' + status / 100)).put((char) ('0' + status / 10 % 10))
                .put((char) ('0' + status % 10)).put(' ').ascii(reasonPhrase == null ? "" : reasonPhrase).ascii("\r\n");
        encodeFields(o);
        return o.ascii("\r\n").toBuffer(alloc);
    }

    private void encodeFields(Scratch o) {
        for (int i = 0; i < names.size(); i++) {
            o.field(names.get(i), values.get(i));
        }
    }

    /** A growable byte array per event-loop thread for encoding heads. */
    private static final class Scratch {
        private static final FastThreadLocal<Scratch> LOCAL = new FastThreadLocal<>() {
            @Override
            protected Scratch initialValue() {
                return new Scratch();
            }
        };

        private byte[] b = new byte[4096];
        private int n;

        static Scratch get() {
            Scratch s = LOCAL.get();
            s.n = 0;
            return s;
        }

        private void ensure(int more) {
            if (n + more > b.length) {
                b = java.util.Arrays.copyOf(b, Math.max(n + more, b.length * 2));
            }
        }

        Scratch put(char c) {
            ensure(1);
            b[n++] = (byte) c;
            return this;
        }

        @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a plain copy of Latin-1 strings
        Scratch ascii(String s) {
            int len = s.length();
            ensure(len);
            s.getBytes(0, len, b, n);
            n += len;
            return this;
        }

        /** One field line: "name: value" and CRLF. */
        Scratch field(String name, String value) {
            return ascii(name).put(':').put(' ').ascii(value).ascii("\r\n");
        }

        ByteBuf toBuffer(ByteBufAllocator alloc) {
            return alloc.directBuffer(n).writeBytes(b, 0, n);
        }
    }
}
