package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;

/** A parsed request or response head. Header names keep their case; lookups ignore it. */
final class HttpHead {
    // request
    String method;
    String target;
    // response
    int status;
    String reasonPhrase;
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and other 1.x, treated as 1.1). */
    int minorVersion;
    /** Bytes the head took on the wire. */
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

    int count(String name) {
        int n = 0;
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                n++;
            }
        }
        return n;
    }

    /** All values of a header joined with ", " (the list form of RFC 9110 5.3), or null. */
    String joined(String name) {
        String out = null;
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                out = out == null ? values.get(i) : out + ", " + values.get(i);
            }
        }
        return out;
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

    void writeRequestLine(ByteBuf out, String method, String target) {
        ascii(out, method);
        out.writeByte(' ');
        ascii(out, target);
        ascii(out, " HTTP/1.1\r\n");
    }

    void writeStatusLine(ByteBuf out, int minor) {
        ascii(out, minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
        out.writeByte('0' + status / 100).writeByte('0' + status / 10 % 10).writeByte('0' + status % 10);
        out.writeByte(' ');
        ascii(out, reasonPhrase == null ? "" : reasonPhrase);
        out.writeByte('\r').writeByte('\n');
    }

    void writeHeaders(ByteBuf out) {
        for (int i = 0; i < names.size(); i++) {
            ascii(out, names.get(i));
            out.writeByte(':').writeByte(' ');
            ascii(out, values.get(i));
            out.writeByte('\r').writeByte('\n');
        }
        out.writeByte('\r').writeByte('\n');
    }

    static void ascii(ByteBuf out, String s) {
        out.writeCharSequence(s, StandardCharsets.ISO_8859_1);
    }
}
