// Every rejection path of "Bad input": exact nginx wording and the token's position.
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

TEST_CASE("errors: unknown directive, with a suggestion", "[conf][errors]") {
    auto r = load_text(in_server("location / {\n  proxy_pas http://x;\n}"));
    REQUIRE_ERROR_AT(r, "unknown directive \"proxy_pas\"", 6, 3);
    CHECK(first_error(r).hint == "did you mean \"proxy_pass\"?");
    auto far = load_text(in_server("completely_unrelated_name 1;"));
    CHECK(first_error(far).message == "unknown directive \"completely_unrelated_name\"");
    CHECK(first_error(far).hint.empty());
}

TEST_CASE("errors: directive in the wrong context", "[conf][errors]") {
    auto r = load_text(in_http("listen 80;"));
    REQUIRE_ERROR_AT(r, "\"listen\" directive is not allowed here", 3, 1);
    CHECK(first_error(r).hint == "\"listen\" is allowed in: server");
    REQUIRE_ERROR_AT(load_text("events {}\nproxy_pass http://x;\n"),
                     "\"proxy_pass\" directive is not allowed here", 2, 1);
    REQUIRE_ERROR_AT(load_text("events { worker_processes 2; }\n"),
                     "\"worker_processes\" directive is not allowed here", 1, 10);
}

TEST_CASE("errors: wrong number of arguments", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text(in_server("server_name;")),
                     "invalid number of arguments in \"server_name\" directive", 5, 1);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_set_header Host;")),
                     "invalid number of arguments in \"proxy_set_header\" directive", 5, 1);
    REQUIRE_ERROR_AT(load_text("events {}\ndaemon on off;\n"),
                     "invalid number of arguments in \"daemon\" directive", 2, 1);
    REQUIRE_ERROR_AT(load_text("events {}\nhttp x {}\n"),
                     "invalid number of arguments in \"http\" directive", 2, 1);
}

TEST_CASE("errors: block and terminator shape", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text("events {}\nhttp;\n"), "directive \"http\" has no opening \"{\"", 2,
                     5);
    REQUIRE_ERROR_AT(load_text("events {}\ndaemon on { }\n"),
                     "directive \"daemon\" is not terminated by \";\"", 2, 11);
}

TEST_CASE("errors: a missing ';' runs into the next line", "[conf][errors]") {
    auto r = load_text(in_server("proxy_connect_timeout 5s\nproxy_read_timeout 10s;"));
    REQUIRE_ERROR_AT(r, "invalid number of arguments in \"proxy_connect_timeout\" directive", 5, 1);
    CHECK(first_error(r).hint == "is a \";\" missing at the end of line 5?");
}

TEST_CASE("errors: duplicates are worded as nginx", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text("events {}\ndaemon on;\ndaemon off;\n"),
                     "\"daemon\" directive is duplicate", 3, 1);
    REQUIRE_ERROR_AT(load_text("events {}\nevents {}\n"), "\"events\" directive is duplicate", 2,
                     1);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_read_timeout 1s;\nproxy_read_timeout 2s;")),
                     "\"proxy_read_timeout\" directive is duplicate", 6, 1);
}

TEST_CASE("errors: bad flag, number, size and duration values", "[conf][errors]") {
    REQUIRE_ERROR_AT(
        load_text("events {}\ndaemon maybe;\n"),
        "invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or \"off\"", 2, 8);
    REQUIRE_ERROR_AT(load_text("events { worker_connections many; }\n"), "invalid number \"many\"",
                     1, 29);
    REQUIRE_ERROR_AT(load_text(in_server("client_max_body_size 10q;")),
                     "\"client_max_body_size\" directive invalid value", 5, 22);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_buffer_size 1g;")),
                     "\"proxy_buffer_size\" directive invalid value", 5, 19);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_read_timeout 1y;")),
                     "\"proxy_read_timeout\" directive invalid value", 5, 20);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_read_timeout 30m1h;")),
                     "\"proxy_read_timeout\" directive invalid value", 5, 20);
    REQUIRE_ERROR_AT(load_text(in_server("keepalive_requests -1;")),
                     "\"keepalive_requests\" directive invalid number", 5, 20);
    REQUIRE_ERROR_AT(load_text("events {}\nworker_processes lots;\n"),
                     "\"worker_processes\" directive invalid value", 2, 18);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_buffers 0 4k;")),
                     "\"proxy_buffers\" directive invalid value", 5, 15);
    REQUIRE_ERROR_AT(load_text(in_server("proxy_http_version 2.0;")), "invalid value \"2.0\"", 5,
                     20);
}

TEST_CASE("errors: duplicate location", "[conf][errors]") {
    auto r = load_text(in_server("location /a {}\nlocation /a {}"));
    REQUIRE_ERROR_AT(r, "duplicate location \"/a\"", 6, 1);
    CHECK(first_error(r).hint == "the first one is at /tmp/ferry-test/nginx.conf:5:1");
    REQUIRE_ERROR_AT(load_text(in_server("location /a {}\nlocation ^~ /a {}")),
                     "duplicate location \"/a\"", 6, 1);
    REQUIRE_ERROR_AT(load_text(in_server("location = /a {}\nlocation =/a {}")),
                     "duplicate location \"/a\"", 6, 1);
    // an exact and a prefix location of one name are different locations
    REQUIRE_LOADS(load_text(in_server("location = /a {}\nlocation /a {}\nlocation ~ /a {}")));
}

TEST_CASE("errors: duplicate server_name across servers warns as nginx", "[conf][errors]") {
    auto r =
        load_text(in_http("server { listen 80; server_name a.example; }\n"
                          "server { listen 80; server_name A.example; }"));
    REQUIRE_LOADS(r);
    REQUIRE(warnings(r).size() == 1);
    CHECK(warnings(r)[0].message == "conflicting server name \"a.example\" on 0.0.0.0:80, ignored");
    CHECK(warnings(r)[0].loc.line == 4);
    // different ports: no conflict
    auto ok =
        load_text(in_http("server { listen 80; server_name a; }\n"
                          "server { listen 81; server_name a; }"));
    CHECK(warnings(ok).empty());
}

TEST_CASE("errors: invalid regex carries PCRE2's reason", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text(in_server("location ~ \"^/(a\" {}")),
                     "pcre2_compile() failed: missing closing parenthesis in \"^/(a\"", 5, 12);
    REQUIRE_ERROR_AT(load_text(in_server("server_name \"~^(x\";")),
                     "pcre2_compile() failed: missing closing parenthesis in \"^(x\"", 5, 13);
    auto map = load_text(in_http("map $uri $m { \"~a)b\" 1; }"));
    REQUIRE(map.config == nullptr);
    CHECK(first_error(map).message ==
          "pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\"");
}

TEST_CASE("errors: unknown variable, with a suggestion", "[conf][errors]") {
    auto r = load_text(in_server("location / { return 200 \"$hots\"; }"));
    REQUIRE_ERROR_AT(r, "unknown \"hots\" variable", 5, 26);
    CHECK(first_error(r).hint == "did you mean \"$host\"?");
    REQUIRE_ERROR_AT(load_text(in_server("location / { return 200 ${host; }")),
                     "the closing bracket in \"host\" variable is missing", 5, 25);
    REQUIRE_ERROR_AT(load_text(in_server("location / { return 200 \"a$\"; }")),
                     "invalid variable name", 5, 27);
}

TEST_CASE("errors: a 1 MiB token and a 1 MiB line", "[conf][errors]") {
    auto token = load_text("events {}\nworker_processes " + std::string(1 << 20, '1') + ";\n");
    REQUIRE_ERROR_AT(token, "too long parameter \"1111111111...\" started", 2, 18);
    std::string line = "events {}\nhttp { ";
    while (line.size() < (1u << 20))
        line += "add_header X-A b; ";
    REQUIRE_LOADS(load_text(line + "}\n"));
    size_t column = line.size() - 10 + 1;  // "events {}\n" is line 1
    REQUIRE_ERROR_AT(load_text(line + "bogus; }\n"), "unknown directive \"bogus\"", 2, column);
}

TEST_CASE("errors: unterminated quote", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text(in_server("return 200 \"oops;\n}\n}\n")),
                     "unexpected end of file, expecting \";\" or \"}\"", 5, 12);
}

TEST_CASE("errors: bad listen values", "[conf][errors]") {
    auto bad = [](const std::string& listen) {
        return load_text("events {}\nhttp { server { listen " + listen + "; } }\n");
    };
    REQUIRE_ERROR_AT(bad("99999"), "invalid port in \"99999\" of the \"listen\" directive", 2, 24);
    REQUIRE_ERROR_AT(bad("host:0"), "invalid port in \"host:0\" of the \"listen\" directive", 2,
                     24);
    REQUIRE_ERROR_AT(bad("[::1"), "invalid host in \"[::1\" of the \"listen\" directive", 2, 24);
    REQUIRE_ERROR_AT(bad("[zz]:80"),
                     "invalid IPv6 address in \"[zz]:80\" of the \"listen\" directive", 2, 24);
    REQUIRE_ERROR_AT(bad("a/b"), "invalid host in \"a/b\" of the \"listen\" directive", 2, 24);
    REQUIRE_ERROR_AT(bad("unix:"),
                     "no path in the unix domain socket in \"unix:\" of the \"listen\" "
                     "directive",
                     2, 24);
    REQUIRE_ERROR_AT(bad("80 backlog=x"), "invalid backlog \"backlog=x\"", 2, 27);
    REQUIRE_ERROR_AT(bad("80 ipv6only=oops"), "invalid ipv6only flags \"oops\"", 2, 27);
    REQUIRE_ERROR_AT(bad("80 ipv6only=maybe"), "invalid parameter \"ipv6only=maybe\"", 2, 27);
    REQUIRE_ERROR_AT(bad("80 sparkly"), "invalid parameter \"sparkly\"", 2, 27);
    REQUIRE_ERROR_AT(bad("8000-8010"),
                     "port ranges are not supported by ferry in \"8000-8010\" of the \"listen\" "
                     "directive",
                     2, 24);
}

TEST_CASE("errors: second default_server on one address", "[conf][errors]") {
    auto r =
        load_text(in_http("server { listen 80 default_server; }\n"
                          "server { listen 127.0.0.1:81; }\n"
                          "server { listen *:80 default_server; }"));
    REQUIRE_ERROR_AT(r, "a duplicate default server for 0.0.0.0:80", 5, 10);
    REQUIRE_ERROR_AT(load_text(in_http("server { listen 80; listen 0.0.0.0:80; }")),
                     "a duplicate listen 0.0.0.0:80", 3, 21);
    REQUIRE_ERROR_AT(load_text(in_http("server { listen 80 backlog=10; }\n"
                                       "server { listen 80 reuseport; }")),
                     "duplicate listen options for 0.0.0.0:80", 4, 10);
}

TEST_CASE("errors: proxy_pass shapes", "[conf][errors]") {
    auto prefix = load_text(in_server("location / { proxy_pass localhost:8080; }"));
    REQUIRE_ERROR_AT(prefix, "invalid URL prefix", 5, 25);
    CHECK(first_error(prefix).hint == "did you mean \"http://localhost:8080\"?");
    REQUIRE_ERROR_AT(load_text(in_server("location / { proxy_pass http://h:70000; }")),
                     "invalid port in upstream \"h:70000\"", 5, 25);
    std::string uri_msg =
        "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
        "named location, or inside \"if\" statement, or inside \"limit_except\" block";
    REQUIRE_ERROR_AT(load_text(in_server("location ~ ^/a { proxy_pass http://h/x; }")), uri_msg, 5,
                     29);
    REQUIRE_ERROR_AT(load_text(in_server("location @n { proxy_pass http://h/; }")), uri_msg, 5, 26);
    // with variables the URI is the user's business, as in nginx
    REQUIRE_LOADS(load_text(in_server("location ~ ^/a(.*) { proxy_pass http://h/x$1; }")));
    REQUIRE_ERROR_AT(
        load_text(in_server("location / { proxy_pass http://h; proxy_pass http://i; }")),
        "\"proxy_pass\" directive is duplicate", 5, 35);
}

TEST_CASE("errors: return codes", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text(in_server("return abc;")), "invalid return code \"abc\"", 5, 8);
    REQUIRE_ERROR_AT(load_text(in_server("return 1000;")), "invalid return code \"1000\"", 5, 8);
    REQUIRE_ERROR_AT(load_text(in_server("return /x y;")), "invalid return code \"/x\"", 5, 8);
}

TEST_CASE("errors: nested location rules", "[conf][errors]") {
    REQUIRE_ERROR_AT(load_text(in_server("location /a { location /b {} }")),
                     "location \"/b\" is outside location \"/a\"", 5, 15);
    REQUIRE_ERROR_AT(load_text(in_server("location = /a { location /a/b {} }")),
                     "location \"/a/b\" cannot be inside the exact location \"/a\"", 5, 17);
    REQUIRE_ERROR_AT(load_text(in_server("location /a { location @n {} }")),
                     "named location \"@n\" can be on the server level only", 5, 15);
    REQUIRE_ERROR_AT(load_text(in_server("location @n { location /b {} }")),
                     "location \"/b\" cannot be inside the named location \"@n\"", 5, 15);
    REQUIRE_ERROR_AT(load_text(in_server("location !~ /x {}")), "invalid location modifier \"!~\"",
                     5, 10);
}
