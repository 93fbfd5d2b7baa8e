package dev.sluice.conf;

import dev.sluice.conf.SluiceConfig.HostPort;

/** Parses "host:port", "[v6]:port"; null when malformed. */
public final class HostPorts {
    private HostPorts() {}

    public static HostPort parse(String s) {
        if (s == null) {
            return null;
        }
        s = s.trim();
        String host;
        String port;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                return null;
            }
            host = s.substring(1, close);
            port = s.substring(close + 2);
        } else {
            int colon = s.lastIndexOf(':');
            if (colon <= 0 || s.indexOf(':') != colon) {
                return null;
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
        }
        if (host.isEmpty() || !port.matches("\\d{1,5}")) {
            return null;
        }
        int p = Integer.parseInt(port);
        return p > 65535 ? null : new HostPort(host, p);
    }
}
