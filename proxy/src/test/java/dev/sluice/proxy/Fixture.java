package dev.sluice.proxy;

import dev.sluice.conf.ConfigLoader;
import dev.sluice.conf.SluiceConfig;
import dev.sluice.loadtest.Origin;

/** Starts origins on port 0 and a Sluice from HOCON in which %1$d, %2$d, ... are the origins' ports. */
final class Fixture implements AutoCloseable {
    final Origin[] origins;
    final Sluice sluice;

    Fixture(String hoconTemplate, String... originNames) throws Exception {
        origins = new Origin[originNames.length];
        Object[] ports = new Object[originNames.length];
        for (int i = 0; i < originNames.length; i++) {
            origins[i] = Origin.builder().name(originNames[i]).build();
            ports[i] = origins[i].port();
        }
        SluiceConfig config = ConfigLoader.parse(String.format(hoconTemplate, ports), "test.conf");
        sluice = Sluice.start(config);
    }

    int port() {
        return sluice.port("http");
    }

    Origin origin(int i) {
        return origins[i];
    }

    long upstreamRequests() {
        long n = 0;
        for (Origin o : origins) {
            n += o.requestsReceived();
        }
        return n;
    }

    TestClient client() throws java.io.IOException {
        return new TestClient(port());
    }

    /**
     * A config with one route to origin 0 and test-friendly settings; {@code extra} is merged in and
     * may use the origins' %N$d ports too (write %% for a literal percent).
     */
    static String simple(String extra) {
        return """
                sluice {
                  event-loops = 2
                  listeners = [ { name = http, address = "127.0.0.1:0" } ]
                  upstreams { origin { servers = ["127.0.0.1:%1$d"] } }
                  routes = [ { name = main, upstream = origin } ]
                  admin.address = "127.0.0.1:0"
                  access-log.enabled = false
                }
                """ + extra;
    }

    @Override
    public void close() {
        sluice.close();
        for (Origin o : origins) {
            o.close();
        }
    }
}
