vcl 4.1;
# Varnish as a peer for loadtest/bench.sh (malloc storage, see the script). @ORIGIN_HOST@/@ORIGIN_PORT@ are filled in.

backend origin {
    .host = "@ORIGIN_HOST@";
    .port = "@ORIGIN_PORT@";
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 60s;
}

sub vcl_recv {
    if (req.url ~ "^/pass/") {
        return (pass);
    }
}

sub vcl_backend_response {
    set beresp.do_stream = true;
}
