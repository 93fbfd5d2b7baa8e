package dev.sluice.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.sluice.conf.SluiceConfig.HeaderMatch;
import dev.sluice.conf.SluiceConfig.RouteConfig;
import dev.sluice.conf.SluiceConfig.ZeroCopy;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Routing on its own: routes are tried in order and the first whose host, path prefix and header all match wins
 * (not the longest prefix: order is the operator's way to say which wins). An empty host matches any, a path prefix
 * defaults to "/", no match is 404 (null here).
 */
class RouterTest {
    private static Router.Route route(String name, String host, String prefix, HeaderMatch header) {
        return new Router.Route(new RouteConfig(name, "", host, prefix, header, "u", ZeroCopy.AUTO, null), null, null, null);
    }

    private static final Router ROUTER = new Router(List.of(
            route("static", "static.example.com", "/", null),
            route("wild-media", "*.example.com", "/media/", null),
            route("api-tenant", "", "/api/", new HeaderMatch("X-Tenant", "")),
            route("api", "", "/api/", null),
            route("api-v2", "", "/api/v2/", null), // after "api": never chosen, whatever the path
            route("debug", "example.com", "/", new HeaderMatch("X-Debug", "1")),
            route("default", "", "/", null)));

    private static final Router NO_DEFAULT = new Router(List.of(route("only", "a.example", "/only/", null)));

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
            # rule                                           | host                 | path           | header         | route
            exact host                                       | static.example.com   | /x             | -              | static
            exact host wins before a later wildcard          | static.example.com   | /media/a       | -              | static
            wildcard matches a subdomain                     | img.example.com      | /media/a       | -              | wild-media
            wildcard matches a deeper subdomain              | a.b.example.com      | /media/a       | -              | wild-media
            wildcard does not match the apex                 | example.com          | /media/a       | -              | default
            wildcard does not match a longer name            | notexample.com       | /media/a       | -              | default
            wildcard does not match its bare suffix         | .example.com         | /media/a       | -              | default
            path prefix is a prefix of the path              | img.example.com      | /media/        | -              | wild-media
            path prefix needs its trailing slash             | img.example.com      | /media         | -              | default
            path matching is case-sensitive                  | img.example.com      | /Media/a       | -              | default
            empty host matches any host                      | other.test           | /api/x         | -              | api
            empty host matches a request without Host        | ''                   | /api/x         | -              | api
            header present (empty value = any)               | other.test           | /api/x         | X-Tenant: t1   | api-tenant
            header names are case-insensitive                | other.test           | /api/x         | x-tenant: t1   | api-tenant
            first match wins, not the longest prefix         | other.test           | /api/v2/x      | -              | api
            header with a value must equal it                | example.com          | /x             | X-Debug: 1     | debug
            header with another value does not match         | example.com          | /x             | X-Debug: 2     | default
            a route with path-prefix / is the default        | other.test           | /              | -              | default
            """)
    void match(String rule, String host, String path, String header, String expected) {
        HttpHead head = new HttpHead();
        if (header != null) {
            int colon = header.indexOf(':');
            head.add(header.substring(0, colon), header.substring(colon + 1).strip());
        }
        assertEquals(expected, ROUTER.match(host, path, head).name());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            # rule                           | host        | path
            host matches, path does not      | a.example   | /other
            path matches, host does not      | b.example   | /only/x
            """)
    void noRouteMatches_isNull(String rule, String host, String path) {
        assertNull(NO_DEFAULT.match(host, path, new HttpHead()));
    }

    @ParameterizedTest(name = "''{0}'' -> ''{1}''")
    @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
            # Host header            | as routes match it
            Example.COM              | example.com
            example.com:8080         | example.com
            example.com.             | example.com
            example.com.:80          | example.com
            '  example.com  '        | example.com
            [::1]:8080               | [::1]
            [2001:DB8::1]            | [2001:db8::1]
            -                        | ''
            ''                       | ''
            """)
    void normalizeHost(String host, String expected) {
        assertEquals(expected, Router.normalizeHost(host));
    }
}
