// http -> server -> location (-> nested location) inheritance, as nginx merges.
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

TEST_CASE("inheritance: scalar settings flow down unless set again", "[conf][inheritance]") {
    auto r = load_text(in_http(
        "proxy_read_timeout 950s;\nclient_max_body_size 5m;\n"
        "server { listen 80; proxy_connect_timeout 3s;\n"
        "  location /a { proxy_pass http://h; }\n"
        "  location /b { proxy_read_timeout 10s; location /b/c { proxy_pass http://h; } }\n"
        "}\n"
        "proxy_send_timeout 7s;"));  // set after the server block: still inherited, as in nginx
    REQUIRE_LOADS(r);
    const ServerConf& s = *r.config->http->servers[0];
    const LocationConf& a = *s.locations[0];
    CHECK(a.proxy.read_timeout == 950000);
    CHECK(a.proxy.connect_timeout == 3000);
    CHECK(a.proxy.send_timeout == 7000);
    CHECK(a.client_max_body_size == 5 * 1024 * 1024);
    const LocationConf& c = *s.locations[1]->locations[0];
    CHECK(c.proxy.read_timeout == 10000);
    CHECK(c.proxy.connect_timeout == 3000);
    CHECK(s.defaults.proxy.read_timeout == 950000);
    CHECK(s.defaults.proxy.http_version == 11);  // ferry's default, as nginx 1.29.7+
}

TEST_CASE("inheritance: proxy_set_header is all or nothing", "[conf][inheritance]") {
    auto r = load_text(
        in_http("proxy_set_header X-From http;\n"
                "server { listen 80; proxy_set_header Host $host; proxy_set_header X-Real-IP "
                "$remote_addr;\n"
                "  location /inherits { proxy_pass http://h; }\n"
                "  location /own { proxy_pass http://h; proxy_set_header Upgrade $http_upgrade; }\n"
                "  location /nested { location /nested/deeper { proxy_pass http://h; } }\n"
                "}\nserver { listen 81; }"));
    REQUIRE_LOADS(r);
    const auto& servers = r.config->http->servers;
    const ServerConf& s = *servers[0];
    REQUIRE(s.defaults.proxy.set_headers);
    CHECK(s.defaults.proxy.set_headers->size() == 2);
    const auto& inherits = s.locations[0]->proxy.set_headers;
    REQUIRE(inherits);
    CHECK(inherits.get() == s.defaults.proxy.set_headers.get());  // compiled once, shared
    const auto& own = s.locations[1]->proxy.set_headers;
    REQUIRE(own->size() == 1);
    CHECK(own->at(0).name == "Upgrade");
    CHECK(s.locations[2]->locations[0]->proxy.set_headers->size() == 2);
    const auto& other = servers[1]->defaults.proxy.set_headers;
    REQUIRE(other->size() == 1);
    CHECK(other->at(0).name == "X-From");
}

TEST_CASE("inheritance: no proxy_set_header anywhere leaves the rules empty",
          "[conf][inheritance]") {
    auto r = load_text(in_server("location / { proxy_pass http://h; }"));
    REQUIRE_LOADS(r);
    CHECK_FALSE(r.config->http->servers[0]->locations[0]->proxy.set_headers);
}

TEST_CASE("inheritance: lists such as access_log and add_header", "[conf][inheritance]") {
    auto r =
        load_text(in_http("access_log a.log; add_header X-H 1;\n"
                          "server { listen 80; location / { access_log b.log; access_log c.log; }\n"
                          "  location /x { add_header X-I 2; add_header X-J 3; } }"));
    REQUIRE_LOADS(r);
    const ServerConf& s = *r.config->http->servers[0];
    CHECK(s.defaults.access_logs.size() == 1);
    CHECK(s.locations[0]->access_logs.size() == 2);
    CHECK(s.locations[0]->add_headers->size() == 1);
    CHECK(s.locations[1]->add_headers->size() == 2);
    CHECK(s.locations[1]->access_logs[0].path == "/tmp/ferry-test/a.log");
}

TEST_CASE("inheritance: server-level settings from http", "[conf][inheritance]") {
    auto r =
        load_text(in_http("client_header_timeout 9s; ssl_protocols TLSv1.3;\n"
                          "ssl_certificate c; ssl_certificate_key k;\n"
                          "server { listen 443 ssl; }\n"
                          "server { listen 444 ssl; ssl_protocols TLSv1.2; "
                          "client_header_timeout 1s; }"));
    REQUIRE_LOADS(r);
    const auto& servers = r.config->http->servers;
    CHECK(servers[0]->client_header_timeout == 9000);
    CHECK(servers[0]->ssl->protocols == ssl_tlsv1_3);
    CHECK(servers[1]->client_header_timeout == 1000);
    CHECK(servers[1]->ssl->protocols == ssl_tlsv1_2);
    CHECK(servers[1]->ssl->certificates.size() == 1);
}

TEST_CASE("inheritance: proxy_pass, return and set are not inherited", "[conf][inheritance]") {
    auto r =
        load_text(in_server("location /a { proxy_pass http://h; return 204; set $v 1;\n"
                            "  location /a/b { } }"));
    REQUIRE_LOADS(r);
    const LocationConf& b = *r.config->http->servers[0]->locations[0]->locations[0];
    CHECK_FALSE(b.proxy_pass);
    CHECK_FALSE(b.ret);
    CHECK(b.sets.empty());
}

TEST_CASE("inheritance: root at server level marks every location", "[conf][inheritance]") {
    auto r =
        load_text(in_server("root /srv;\nlocation / { }\nlocation /p { proxy_pass http://h; }"));
    REQUIRE_LOADS(r);
    CHECK(r.config->http->servers[0]->locations[0]->serves_files);
    CHECK(r.config->http->servers[0]->locations[1]->files.root.raw() == "/srv");
    CHECK(r.config->http->servers[0]->locations[0]->files.alias_strip == 0);
}

TEST_CASE("inheritance: add_header_inherit off and merge", "[conf][inheritance]") {
    auto r =
        load_text(in_http("add_header X-Http 1;\n"
                          "server { listen 80;\n"
                          "  location /off { add_header_inherit off; }\n"
                          "  location /merge { add_header_inherit merge; add_header X-Own 2; }\n"
                          "  location /plain { add_header X-Own 3; } }"));
    REQUIRE_LOADS(r);
    const auto& l = r.config->http->servers[0]->locations;
    CHECK_FALSE(l[0]->add_headers);
    REQUIRE(l[1]->add_headers->size() == 2);
    CHECK(l[1]->add_headers->at(0).name == "X-Own");
    CHECK(l[1]->add_headers->at(1).name == "X-Http");
    CHECK(l[2]->add_headers->size() == 1);
    REQUIRE_ERROR_AT(load_text(in_server("add_header_inherit sometimes;")),
                     "invalid value \"sometimes\"", 5, 20);
}
