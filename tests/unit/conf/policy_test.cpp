// What ferry does with nginx directives it does not implement.
#include "conf/directive_table.h"
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

TEST_CASE("policy: tuning directives are ignored with a warning", "[conf][policy]") {
    auto r = load_text(
        "events { use epoll; multi_accept on; }\n"
        "http { sendfile on; tcp_nopush on; gzip on; gzip_types text/plain;\n"
        "types { text/html html; } default_type application/octet-stream;\n"
        "server_tokens off; proxy_temp_path /tmp/x 1 2;\n"
        "server { listen 80; sendfile off; } }\n");
    REQUIRE_LOADS(r);
    auto w = warnings(r);
    CHECK(has_warning(r, "\"sendfile\" is ignored by ferry"));
    CHECK(has_warning(r, "\"proxy_temp_path\" is ignored by ferry"));
    CHECK(has_warning(r, "\"use\" is ignored by ferry"));
    // one warning per directive name
    int sendfile = 0;
    for (const auto& d : w)
        sendfile += d.message == "\"sendfile\" is ignored by ferry";
    CHECK(sendfile == 1);
}

TEST_CASE("policy: ignored directives still get nginx's shape checks", "[conf][policy]") {
    REQUIRE_ERROR_AT(load_text(in_http("sendfile maybe on;")),
                     "invalid number of arguments in \"sendfile\" directive", 3, 1);
    REQUIRE_ERROR_AT(load_text("events {}\ngzip on;\n"), "\"gzip\" directive is not allowed here",
                     2, 1);
}

TEST_CASE("policy: root, alias and index serve files without a warning", "[conf][policy]") {
    auto r =
        load_text(in_server("location / { root /srv; index index.html; }\n"
                            "location /i/ { alias /img/; }"));
    REQUIRE_LOADS(r);
    CHECK_FALSE(has_warning(r, "\"root\" is ignored: ferry serves no files"));
    CHECK(warnings(r).empty());
    CHECK(r.config->http->servers[0]->locations[0]->serves_files);
    CHECK(r.config->http->servers[0]->locations[1]->serves_files);
}

TEST_CASE("policy: security and routing directives are refused with a reason", "[conf][policy]") {
    struct Case {
        std::string body, directive;
    };
    for (const Case& c : std::vector<Case>{
             {"location / { allow 10.0.0.0/8; }", "allow"},
             {"location / { deny all; }", "deny"},
             {"auth_basic \"x\";", "auth_basic"},
             {"location / { auth_request /auth; }", "auth_request"},
             {"rewrite ^ /x;", "rewrite"},
             {"if ($host) { return 404; }", "if"},
             {"location / { fastcgi_pass 127.0.0.1:9000; }", "fastcgi_pass"},
             {"location / { uwsgi_pass 127.0.0.1:9000; }", "uwsgi_pass"},
             {"location / { grpc_pass grpc://x; }", "grpc_pass"},
             {"location / { limit_req zone=z; }", "limit_req"},
             {"location / { limit_except GET { deny all; } }", "limit_except"},
         }) {
        INFO(c.body);
        auto r = load_text(in_server(c.body));
        REQUIRE(r.config == nullptr);
        CHECK(first_error(r).message.rfind("ferry does not implement the \"" + c.directive + "\"",
                                           0) == 0);
    }
}

TEST_CASE("policy: a refused directive set to ferry's behaviour is accepted", "[conf][policy]") {
    REQUIRE_LOADS(
        load_text(in_server("auth_basic off; merge_slashes on; ssl_verify_client off;\n"
                            "location / { proxy_pass http://h; "
                            "proxy_pass_request_body on; auth_request off; }")));
}

TEST_CASE("policy: whole modules ferry lacks are refused", "[conf][policy]") {
    auto r = load_text("events {}\nstream { server { listen 12345; proxy_pass x; } }\n");
    REQUIRE_ERROR_AT(r,
                     "ferry does not implement the \"stream\" directive (TCP and UDP proxying "
                     "(the stream module))",
                     2, 1);
}

TEST_CASE("policy: every row is well formed", "[conf][policy]") {
    for (const DirectiveRow* row : all_directives()) {
        INFO(row->name);
        CHECK_FALSE(row->name.empty());
        CHECK(row->contexts != 0);
        CHECK(row->arity != 0);
        CHECK_FALSE(row->note.empty());
        if (row->support == Support::yes && row->name != "include") CHECK(row->handler);
        if (!row->harmless_value.empty()) CHECK(row->support == Support::refused);
    }
}

TEST_CASE("policy: every directive issue 2 lists is implemented", "[conf][policy]") {
    for (const char* name : {"worker_processes",
                             "worker_connections",
                             "worker_rlimit_nofile",
                             "pid",
                             "error_log",
                             "daemon",
                             "events",
                             "http",
                             "server",
                             "listen",
                             "server_name",
                             "location",
                             "map",
                             "upstream",
                             "keepalive",
                             "proxy_pass",
                             "proxy_http_version",
                             "proxy_set_header",
                             "proxy_hide_header",
                             "proxy_pass_header",
                             "proxy_connect_timeout",
                             "proxy_read_timeout",
                             "proxy_send_timeout",
                             "proxy_buffering",
                             "proxy_buffer_size",
                             "return",
                             "access_log",
                             "log_format",
                             "keepalive_timeout",
                             "keepalive_requests",
                             "client_max_body_size",
                             "client_header_timeout",
                             "client_body_timeout",
                             "send_timeout",
                             "large_client_header_buffers",
                             "worker_shutdown_timeout",
                             "ssl_certificate",
                             "ssl_certificate_key",
                             "ssl_protocols",
                             "ssl_ciphers",
                             "ssl_prefer_server_ciphers",
                             "ssl_session_cache",
                             "ssl_session_timeout",
                             "ssl_session_tickets",
                             "set"}) {
        INFO(name);
        auto rows = find_directive(name);
        REQUIRE_FALSE(rows.empty());
        CHECK(rows[0]->support == Support::yes);
    }
}
