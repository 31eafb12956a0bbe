// Directives are validated and stored in the model.
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

namespace {

const ServerConf& server0(const LoadResult& r) {
    return *r.config->http->servers.at(0);
}

}  // namespace

TEST_CASE("main: worker and process settings", "[conf][directives]") {
    auto r = load_text(
        "worker_processes 4;\nworker_rlimit_nofile 65535;\npid run/f.pid;\ndaemon off;\n"
        "worker_shutdown_timeout 10s;\nerror_log logs/e.log warn;\n"
        "events { worker_connections 1024; }\n");
    REQUIRE_LOADS(r);
    const Config& c = *r.config;
    CHECK(c.worker_processes == 4);
    CHECK_FALSE(c.worker_processes_auto);
    CHECK(c.worker_rlimit_nofile == 65535);
    CHECK(c.pid == "/tmp/ferry-test/run/f.pid");
    CHECK_FALSE(c.daemon);
    CHECK(c.worker_shutdown_timeout == 10000);
    CHECK(c.worker_connections == 1024);
    REQUIRE(c.error_logs.size() == 1);
    CHECK(c.error_logs[0].path == "/tmp/ferry-test/logs/e.log");
    CHECK(c.error_logs[0].level == LogLevel::warn);
    CHECK_FALSE(c.http);
    auto aut = load_text("worker_processes auto;\nevents {}\n");
    REQUIRE_LOADS(aut);
    CHECK(aut.config->worker_processes_auto);
    CHECK(aut.config->worker_processes >= 1);
    REQUIRE_ERROR_AT(load_text("error_log stderr loud;\nevents {}\n"), "invalid log level \"loud\"",
                     1, 18);
}

TEST_CASE("listen: the forms nginx accepts", "[conf][directives][listen]") {
    auto r = load_text(
        in_http("server { listen 8080; listen 127.0.0.1:8081 default_server; listen [::]:8082 "
                "ipv6only=off; listen [::1]; listen unix:/run/f.sock; listen *:8443 ssl reuseport "
                "backlog=128; listen localhost:8090 default rcvbuf=64k;\n"
                "ssl_certificate c.pem; ssl_certificate_key k.pem; }"));
    REQUIRE_LOADS(r);
    const auto& l = server0(r).listens;
    REQUIRE(l.size() == 7);
    CHECK(l[0].host.empty());
    CHECK(l[0].port == 8080);
    CHECK(l[0].addr_text == "0.0.0.0:8080");
    CHECK(l[1].host == "127.0.0.1");
    CHECK(l[1].default_server);
    CHECK(l[2].host == "::");
    CHECK(l[2].addr_text == "[::]:8082");
    CHECK(l[2].ipv6only == false);
    CHECK(l[3].host == "::1");
    CHECK(l[3].port == 80);
    CHECK(l[4].unix_path == "/run/f.sock");
    CHECK(l[4].addr_text == "unix:/run/f.sock");
    CHECK(l[5].ssl);
    CHECK(l[5].reuseport);
    CHECK(l[5].backlog == 128);
    CHECK(l[5].has_options);
    CHECK(l[6].host == "localhost");
    CHECK(l[6].default_server);
    CHECK(l[6].rcvbuf == 65536);
    REQUIRE(server0(r).ssl);
    CHECK(server0(r).ssl->certificates.at(0).certificate == "/tmp/ferry-test/c.pem");
}

TEST_CASE("listen: a server without listen gets nginx's default", "[conf][directives][listen]") {
    auto r = load_text(in_http("server { }"));
    REQUIRE_LOADS(r);
    REQUIRE(server0(r).listens.size() == 1);
    CHECK(server0(r).listens[0].port == (getuid() == 0 ? 80 : 8000));
}

TEST_CASE("listen: http2 and quic are warned about; proxy_protocol is refused", "[conf][listen]") {
    auto r =
        load_text(in_http("server { listen 443 ssl http2; listen 443 quic; "
                          "ssl_certificate c; ssl_certificate_key k; }"));
    REQUIRE_LOADS(r);
    CHECK(server0(r).listens.size() == 1);
    CHECK(has_warning(r, "the \"listen ... http2\" parameter is ignored by ferry"));
    CHECK(has_warning(r, "\"listen ... quic\" is ignored by ferry: this listen is skipped"));
    auto pp = load_text(in_http("server { listen 80 proxy_protocol; }"));
    REQUIRE(pp.config == nullptr);
    CHECK(first_error(pp).message.rfind("ferry does not implement the \"proxy_protocol\"", 0) == 0);
}

TEST_CASE("listen ... ssl needs a certificate in the default server", "[conf][listen]") {
    REQUIRE_ERROR_AT(load_text(in_http("server { listen 443 ssl; }")),
                     "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive", 3,
                     10);
    // a certificate from http{} is inherited
    auto r =
        load_text(in_http("ssl_certificate c; ssl_certificate_key k;\n"
                          "server { listen 443 ssl; }\nserver { listen 443; }"));
    REQUIRE_LOADS(r);
    CHECK(r.config->http->servers[1]->listens[0].ssl);  // every listen of the address is TLS
    REQUIRE_ERROR_AT(load_text(in_http("server { listen 443 ssl; ssl_certificate c; }")),
                     "no \"ssl_certificate_key\" is defined for certificate \"/tmp/ferry-test/c\"",
                     3, 42);
}

TEST_CASE("ssl: the removed `ssl on` makes every listen TLS, with a warning", "[conf][ssl]") {
    auto r =
        load_text(in_http("server { listen 443; ssl on; ssl_certificate c; "
                          "ssl_certificate_key k; ssl_protocols TLSv1.2 TLSv1.3; "
                          "ssl_ciphers HIGH; ssl_prefer_server_ciphers on; "
                          "ssl_session_cache shared:SSL:10m; ssl_session_timeout 1d; "
                          "ssl_session_tickets off; ssl_dhparam dh.pem; }"));
    REQUIRE_LOADS(r);
    CHECK(server0(r).listens[0].ssl);
    CHECK(has_warning(r, "the \"ssl\" directive is deprecated"));
    const SslConf& s = *server0(r).ssl;
    CHECK(s.protocols == (ssl_tlsv1_2 | ssl_tlsv1_3));
    CHECK(s.ciphers == "HIGH");
    CHECK(s.prefer_server_ciphers);
    CHECK(s.session_cache == SslConf::SessionCache::shared);
    CHECK(s.session_cache_size == 10u * 1024 * 1024);
    CHECK(s.session_timeout == 86400000);
    CHECK_FALSE(s.session_tickets);
    CHECK(s.dhparam == "/tmp/ferry-test/dh.pem");
    REQUIRE_ERROR_AT(load_text(in_server("ssl_protocols TLSv9;")), "invalid value \"TLSv9\"", 5,
                     15);
    REQUIRE_ERROR_AT(load_text(in_server("ssl_session_cache shared:x:1k;")),
                     "session cache \"shared:x:1k\" is too small", 5, 19);
    REQUIRE_ERROR_AT(load_text(in_server("ssl_session_cache bogus;")),
                     "invalid session cache \"bogus\"", 5, 19);
}

TEST_CASE("server_name: exact, wildcards and regex", "[conf][directives]") {
    auto r = load_text(in_server(
        "server_name Example.COM *.example.com .example.org www.example.* \"~^(?<sub>\\w+)\\.x$\" "
        "\"\";"));
    REQUIRE_LOADS(r);
    const auto& n = server0(r).names;
    REQUIRE(n.size() == 6);
    CHECK(n[0].name == "example.com");
    CHECK(n[0].kind == ServerName::Kind::exact);
    CHECK(n[1].kind == ServerName::Kind::wildcard_front);
    CHECK(n[2].kind == ServerName::Kind::wildcard_front);
    CHECK(n[2].name == ".example.org");
    CHECK(n[3].kind == ServerName::Kind::wildcard_back);
    CHECK(n[4].kind == ServerName::Kind::regex);
    REQUIRE(n[4].regex);
    CHECK(n[4].regex->names().at(0).first == "sub");
    CHECK(n[5].name.empty());
    REQUIRE_ERROR_AT(load_text(in_server("server_name *x;")), "server name \"*x\" is invalid", 5,
                     13);
    REQUIRE_ERROR_AT(load_text(in_server("server_name www.*.com;")),
                     "invalid server name or wildcard \"www.*.com\" on 0.0.0.0:8080", 5, 13);
    CHECK(has_warning(load_text(in_server("server_name a/b;")),
                      "server name \"a/b\" has suspicious symbols"));
}

TEST_CASE("location: every kind of match, and nesting", "[conf][directives][location]") {
    auto r =
        load_text(in_server("location / {}\nlocation = /exact {}\nlocation ^~ /static/ {}\n"
                            "location ~ \\.php$ {}\nlocation ~* \\.JPG$ {}\nlocation @fallback {}\n"
                            "location /api/ { location /api/v1/ { location ~ x {} } }\n"
                            "location =/glued {}\nlocation ~*glued {}"));
    REQUIRE_LOADS(r);
    const auto& l = server0(r).locations;
    REQUIRE(l.size() == 9);
    using M = LocationConf::Match;
    CHECK(l[0]->match == M::prefix);
    CHECK(l[1]->match == M::exact);
    CHECK(l[1]->pattern == "/exact");
    CHECK(l[2]->match == M::prefix_no_regex);
    CHECK(l[3]->match == M::regex);
    CHECK(l[3]->regex->match("/a.php"));
    CHECK_FALSE(l[3]->regex->match("/a.PHP"));
    CHECK(l[4]->match == M::regex_icase);
    CHECK(l[4]->regex->match("/a.jpg"));
    CHECK(l[5]->match == M::named);
    CHECK(l[5]->pattern == "@fallback");
    REQUIRE(l[6]->locations.size() == 1);
    REQUIRE(l[6]->locations[0]->locations.size() == 1);
    CHECK(l[6]->locations[0]->locations[0]->match == M::regex);
    CHECK(l[7]->match == M::exact);
    CHECK(l[7]->pattern == "/glued");
    CHECK(l[8]->match == M::regex_icase);
    CHECK(l[8]->pattern == "glued");
}

TEST_CASE("proxy_pass: URL forms", "[conf][directives][proxy]") {
    auto r =
        load_text(in_server("location /a/ { proxy_pass http://127.0.0.1:8080/x/; }\n"
                            "location /b { proxy_pass https://Backend.example; }\n"
                            "location /c { proxy_pass http://unix:/run/app.sock:/api; }\n"
                            "location /d { proxy_pass http://[::1]:9000; }\n"
                            "location /e { proxy_pass $scheme://$host$request_uri; }\n"
                            "location /f { proxy_pass http://127.0.0.1:8080; }"));
    REQUIRE_LOADS(r);
    const auto& l = server0(r).locations;
    const ProxyPass& a = *l[0]->proxy_pass;
    CHECK(a.scheme == ProxyPass::Scheme::http);
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == 8080);
    CHECK(a.uri == "/x/");
    const ProxyPass& b = *l[1]->proxy_pass;
    CHECK(b.scheme == ProxyPass::Scheme::https);
    CHECK(b.port == 0);
    CHECK_FALSE(b.uri);
    const ProxyPass& c = *l[2]->proxy_pass;
    CHECK(c.unix_path == "/run/app.sock");
    CHECK(c.uri == "/api");
    CHECK(l[3]->proxy_pass->host == "::1");
    const ProxyPass& e = *l[4]->proxy_pass;
    CHECK(e.has_variables);
    CHECK(e.upstream == -1);
    CHECK(e.url.parts().size() == 4);
    // implicit upstreams: one per host:port, shared, keepalive off
    const auto& ups = r.config->http->upstreams;
    REQUIRE(ups.size() == 4);
    CHECK(a.upstream == l[5]->proxy_pass->upstream);
    const UpstreamConf& u = ups[a.upstream];
    CHECK(u.implicit);
    CHECK(u.name == "127.0.0.1:8080");
    CHECK(u.keepalive == 0);
    CHECK(ups[b.upstream].name == "backend.example:443");
    CHECK(ups[b.upstream].servers[0].port == 443);
    CHECK(ups[c.upstream].name == "unix:/run/app.sock");
}

TEST_CASE("upstream: servers, parameters and keepalive", "[conf][directives][upstream]") {
    auto r = load_text(in_http(
        "upstream app {\n  server 10.0.0.1:8080 weight=5 max_fails=3 fail_timeout=30s;\n"
        "  server app2 backup;\n  server unix:/run/a.sock down max_conns=10;\n"
        "  keepalive 16;\n  keepalive_requests 100;\n  keepalive_timeout 30s;\n"
        "  keepalive_time 1h;\n}\nupstream def { server 10.0.0.2; }\n"
        "server { listen 80; location / { proxy_pass http://APP; } location /x { proxy_pass "
        "http://app/x; } }"));
    REQUIRE_LOADS(r);
    const auto& ups = r.config->http->upstreams;
    REQUIRE(ups.size() == 2);  // proxy_pass to "APP" uses the explicit upstream
    const UpstreamConf& app = ups[0];
    CHECK_FALSE(app.implicit);
    REQUIRE(app.servers.size() == 3);
    CHECK(app.servers[0].weight == 5);
    CHECK(app.servers[0].max_fails == 3);
    CHECK(app.servers[0].fail_timeout == 30000);
    CHECK(app.servers[1].host == "app2");
    CHECK(app.servers[1].port == 80);
    CHECK(app.servers[1].backup);
    CHECK(app.servers[2].unix_path == "/run/a.sock");
    CHECK(app.servers[2].down);
    CHECK(app.servers[2].max_conns == 10);
    CHECK(app.keepalive == 16);
    CHECK_FALSE(app.keepalive_local);
    CHECK(app.keepalive_requests == 100);
    CHECK(app.keepalive_timeout == 30000);
    CHECK(app.keepalive_time == 3600000);
    CHECK(ups[1].keepalive == 32);  // nginx 1.29+: keepalive on by default
    CHECK(ups[1].keepalive_local);
    CHECK(server0(r).locations[0]->proxy_pass->upstream == 0);
    CHECK(server0(r).locations[1]->proxy_pass->upstream == 0);
}

TEST_CASE("upstream: errors", "[conf][directives][upstream]") {
    REQUIRE_ERROR_AT(load_text(in_http("upstream u { }")), "no servers are inside upstream", 3, 14);
    REQUIRE_ERROR_AT(load_text(in_http("upstream u { server a weight=0; }")),
                     "invalid parameter \"weight=0\"", 3, 23);
    REQUIRE_ERROR_AT(load_text(in_http("upstream u { server a:0; }")),
                     "invalid port in upstream \"a:0\"", 3, 21);
    REQUIRE_ERROR_AT(load_text(in_http("upstream u { server a; keepalive 2; keepalive 3; }")),
                     "\"keepalive\" directive is duplicate", 3, 37);
    auto dup = load_text(in_http("upstream u { server a; }\nupstream U { server b; }"));
    REQUIRE_ERROR_AT(dup, "duplicate upstream \"U\"", 4, 10);
    REQUIRE_ERROR_AT(load_text(in_http("upstream u { server a; }\n"
                                       "server { location / { proxy_pass http://u:81; } }")),
                     "upstream \"u\" may not have port 81", 4, 23);
    auto hash = load_text(in_http("upstream u { hash $remote_addr; server a; }"));
    REQUIRE(hash.config == nullptr);
    CHECK(first_error(hash).message.rfind("ferry does not implement the \"hash\" directive", 0) ==
          0);
    auto lc = load_text(in_http("upstream u { least_conn; server a; }"));
    REQUIRE_LOADS(lc);
    CHECK(has_warning(lc, "\"least_conn\" balancing is not implemented by ferry"));
}

TEST_CASE("log_format and access_log", "[conf][directives][log]") {
    auto r =
        load_text(in_http("log_format main '$remote_addr \"$request\" '\n  '$status';\n"
                          "log_format js escape=json '{\"u\":\"$uri\"}';\n"
                          "access_log logs/main.log main buffer=32k flush=5s;\n"
                          "server { listen 80; access_log /dev/stdout js if=$arg_log;\n"
                          "  location /quiet { access_log off; } location /default { } }"));
    REQUIRE_LOADS(r);
    const HttpConf& h = *r.config->http;
    REQUIRE(h.log_formats.size() == 3);
    CHECK(h.log_formats[0].name == "combined");
    CHECK(h.log_formats[1].format.raw() == "$remote_addr \"$request\" $status");
    CHECK(h.log_formats[2].escape == LogFormat::Escape::json);
    const ServerConf& s = *h.servers[0];
    REQUIRE(s.defaults.access_logs.size() == 1);
    CHECK(s.defaults.access_logs[0].path == "/dev/stdout");
    CHECK(s.defaults.access_logs[0].format == 2);
    REQUIRE(s.defaults.access_logs[0].condition);
    CHECK(s.locations[0]->access_logs.empty());
    REQUIRE(s.locations[1]->access_logs.size() == 1);
    CHECK(s.locations[1]->access_logs[0].path == "/dev/stdout");
    REQUIRE_ERROR_AT(load_text(in_server("access_log x.log main;")), "unknown log format \"main\"",
                     5, 18);
    REQUIRE_ERROR_AT(load_text(in_http("log_format combined '$uri';")),
                     "duplicate \"log_format\" name \"combined\"", 3, 12);
    REQUIRE_ERROR_AT(load_text(in_http("log_format x escape=xml '$uri';")),
                     "unknown log format escaping \"xml\"", 3, 14);
}

TEST_CASE("access_log defaults to logs/access.log in combined", "[conf][directives][log]") {
    auto r = load_text(in_server(""));
    REQUIRE_LOADS(r);
    const auto& logs = server0(r).defaults.access_logs;
    REQUIRE(logs.size() == 1);
    CHECK(logs[0].path == "/tmp/ferry-test/logs/access.log");
    CHECK(logs[0].format == 0);
}

TEST_CASE("return and set, at server and location level", "[conf][directives][rewrite]") {
    auto r = load_text(
        in_server("set $backend app;\nreturn 301 https://$host$request_uri;\n"
                  "location /a { set $x \"1\"; return 200 \"x=$x\"; }\n"
                  "location /b { return 404; }\nlocation /c { return https://example.com/; }"));
    REQUIRE_LOADS(r);
    const ServerConf& s = server0(r);
    REQUIRE(s.sets.size() == 1);
    CHECK(s.sets[0].id == 0);
    REQUIRE(s.ret);
    CHECK(s.ret->code == 301);
    CHECK(s.ret->text->raw() == "https://$host$request_uri");
    const LocationConf& a = *s.locations[0];
    REQUIRE(a.sets.size() == 1);
    CHECK(a.sets[0].id == 1);
    CHECK(a.ret->code == 200);
    CHECK(a.ret->text->parts()[1].var.kind == VarKind::set);
    CHECK_FALSE(s.locations[1]->ret->text);
    CHECK(s.locations[2]->ret->code == 302);
    REQUIRE(r.config->http->set_variables.size() == 2);
    CHECK(r.config->http->set_variables[0] == "backend");
    REQUIRE_ERROR_AT(load_text(in_server("set $host x;")), "the duplicate \"host\" variable", 5, 5);
    REQUIRE_ERROR_AT(load_text(in_server("set x 1;")), "invalid variable name \"x\"", 5, 5);
}

TEST_CASE("add_header and internal", "[conf][directives]") {
    auto r =
        load_text(in_server("add_header X-A a;\nlocation / { internal; add_header X-B \"$host\" "
                            "always; }"));
    REQUIRE_LOADS(r);
    const ServerConf& s = server0(r);
    REQUIRE(s.defaults.add_headers);
    CHECK(s.defaults.add_headers->at(0).name == "X-A");
    const LocationConf& l = *s.locations[0];
    CHECK(l.internal);
    REQUIRE(l.add_headers->size() == 1);  // all or nothing, as proxy_set_header
    CHECK(l.add_headers->at(0).always);
    REQUIRE_ERROR_AT(load_text(in_server("add_header X y sometimes;")),
                     "invalid parameter \"sometimes\"", 5, 16);
}

TEST_CASE("proxy settings are stored", "[conf][directives][proxy]") {
    auto r = load_text(in_server(
        "location / { proxy_pass http://h; proxy_http_version 1.0; proxy_hide_header X-Powered-By; "
        "proxy_pass_header Server; proxy_connect_timeout 5s; proxy_read_timeout 1h30m; "
        "proxy_send_timeout 500ms; proxy_buffering off; proxy_request_buffering off; "
        "proxy_buffer_size 16k; proxy_buffers 4 32k; proxy_next_upstream error timeout http_502; "
        "proxy_next_upstream_tries 3; proxy_next_upstream_timeout 10s; proxy_ssl_server_name on; "
        "proxy_ssl_name $host; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem; "
        "proxy_ssl_verify_depth 2; proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse off; "
        "proxy_redirect http://h/ /; }"));
    REQUIRE_LOADS(r);
    const ProxyConf& p = server0(r).locations[0]->proxy;
    CHECK(p.http_version == 10);
    CHECK(p.hide_headers == std::vector<std::string>{"x-powered-by"});
    CHECK(p.pass_headers == std::vector<std::string>{"server"});
    CHECK(p.connect_timeout == 5000);
    CHECK(p.read_timeout == 5400000);
    CHECK(p.send_timeout == 500);
    CHECK_FALSE(p.buffering);
    CHECK_FALSE(p.request_buffering);
    CHECK(p.buffer_size == 16384);
    CHECK(p.buffers_num == 4);
    CHECK(p.buffers_size == 32768);
    CHECK(p.next_upstream == (nu_error | nu_timeout | nu_http_502));
    CHECK(p.next_upstream_tries == 3);
    CHECK(p.next_upstream_timeout == 10000);
    CHECK(p.ssl_server_name);
    CHECK(p.ssl_name->has_variables());
    CHECK(p.ssl_verify);
    CHECK(p.ssl_trusted_certificate == "/tmp/ferry-test/ca.pem");
    CHECK(p.ssl_verify_depth == 2);
    CHECK(p.ssl_protocols == ssl_tlsv1_3);
    CHECK_FALSE(p.ssl_session_reuse);
    CHECK(p.redirect_mode == ProxyConf::RedirectMode::custom);
    REQUIRE(p.redirects.size() == 1);
    CHECK(p.redirects[0].from.raw() == "http://h/");
}

TEST_CASE("proxy_redirect default and off", "[conf][directives][proxy]") {
    auto r =
        load_text(in_server("location /a/ { proxy_pass http://h/b/; proxy_redirect default; }\n"
                            "location /c { proxy_pass http://h; proxy_redirect off; }"));
    REQUIRE_LOADS(r);
    const auto& a = server0(r).locations[0]->proxy;
    REQUIRE(a.redirects.size() == 1);
    CHECK(a.redirects[0].from.raw() == "http://h/b/");
    CHECK(a.redirects[0].to.raw() == "/a/");
    CHECK(server0(r).locations[1]->proxy.redirect_mode == ProxyConf::RedirectMode::off);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_redirect default;")),
                     "\"proxy_redirect default\" should be placed after the \"proxy_pass\" "
                     "directive",
                     5, 1);
}

TEST_CASE("core http settings are stored", "[conf][directives]") {
    auto r = load_text(in_server(
        "client_max_body_size 1g; client_body_timeout 10s; send_timeout 20s; keepalive_timeout "
        "65 60; keepalive_requests 50; client_header_timeout 7s; client_header_buffer_size 2k; "
        "large_client_header_buffers 8 16k; underscores_in_headers on; ignore_invalid_headers "
        "off;"));
    REQUIRE_LOADS(r);
    const ServerConf& s = server0(r);
    CHECK(s.defaults.client_max_body_size == 1024ULL * 1024 * 1024);
    CHECK(s.defaults.client_body_timeout == 10000);
    CHECK(s.defaults.send_timeout == 20000);
    CHECK(s.defaults.keepalive_timeout == 65000);
    CHECK(s.defaults.keepalive_requests == 50);
    CHECK(s.client_header_timeout == 7000);
    CHECK(s.client_header_buffer_size == 2048);
    CHECK(s.large_client_header_buffers_num == 8);
    CHECK(s.large_client_header_buffers_size == 16384);
    CHECK(s.underscores_in_headers);
    CHECK_FALSE(s.ignore_invalid_headers);
}
