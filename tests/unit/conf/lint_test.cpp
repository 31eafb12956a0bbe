// The WebSocket lint of `ferry -t`: warnings with a position and a one-line fix.
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

namespace {

const std::string ws_map = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n";

LoadResult lint(const std::string& location_body, const std::string& server_extra = "") {
    return load_text(in_http(ws_map + "server { listen 80; " + server_extra +
                             "\nlocation /ws/ { proxy_pass http://b/; " + location_body + " } }"));
}

const Diagnostic* find_warning(const LoadResult& r, const std::string& part) {
    for (const Diagnostic& d : r.diagnostics) {
        if (d.level == LogLevel::warn && d.message.find(part) != std::string::npos) return &d;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("lint: the right idiom draws no warning", "[conf][lint]") {
    auto r = lint(
        "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "
        "$connection_upgrade; proxy_read_timeout 1h;");
    REQUIRE_LOADS(r);
    CHECK(warnings(r).empty());
}

TEST_CASE("lint: Upgrade with proxy_http_version 1.0", "[conf][lint]") {
    auto r = lint(
        "proxy_http_version 1.0; proxy_set_header Upgrade $http_upgrade; "
        "proxy_set_header Connection $connection_upgrade; proxy_read_timeout 1h;");
    REQUIRE_LOADS(r);
    const Diagnostic* w = find_warning(r, "\"proxy_http_version\" is 1.0");
    REQUIRE(w);
    CHECK(w->loc.line == 5);
    CHECK(w->hint.rfind("fix: remove \"proxy_http_version 1.0\"", 0) == 0);
}

TEST_CASE("lint: Upgrade without Connection, and the reverse", "[conf][lint]") {
    auto r = lint("proxy_set_header Upgrade $http_upgrade; proxy_read_timeout 1h;");
    REQUIRE(find_warning(r, "\"Upgrade\" is sent upstream without \"Connection\""));
    auto rev = lint("proxy_set_header Connection $connection_upgrade; proxy_read_timeout 1h;");
    const Diagnostic* w = find_warning(rev, "\"Connection\" asks for an upgrade");
    REQUIRE(w);
    CHECK(w->hint == "fix: add \"proxy_set_header Upgrade $http_upgrade;\"");
    // Connection "" for upstream keepalive is not a mistake
    auto keepalive = lint("proxy_set_header Connection \"\";");
    CHECK(warnings(keepalive).empty());
}

TEST_CASE("lint: a literal Connection upgrade", "[conf][lint]") {
    auto r = lint(
        "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; "
        "proxy_read_timeout 1h;");
    const Diagnostic* w = find_warning(r, "asks every request to upgrade");
    REQUIRE(w);
    CHECK(w->hint.find("map $http_upgrade $connection_upgrade") != std::string::npos);
}

TEST_CASE("lint: WebSocket location with the default read timeout", "[conf][lint]") {
    auto r = lint(
        "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "
        "$connection_upgrade;");
    const Diagnostic* w = find_warning(r, "closed after 60s without traffic");
    REQUIRE(w);
    CHECK(w->loc.line == 5);
    CHECK(w->loc.column == 1);
    // a timeout set at http level counts
    auto http_level =
        load_text(in_http(ws_map + "proxy_read_timeout 950s;\nserver { listen 80; "
                                   "location /ws/ { proxy_pass http://b/; proxy_set_header "
                                   "Upgrade $http_upgrade; proxy_set_header Connection "
                                   "$connection_upgrade; } }"));
    CHECK_FALSE(find_warning(http_level, "closed after 60s"));
}

TEST_CASE("lint: Upgrade and Connection values swapped", "[conf][lint]") {
    auto r = lint(
        "proxy_set_header Upgrade $connection_upgrade; proxy_set_header Connection "
        "$http_upgrade; proxy_read_timeout 1h;");
    REQUIRE(find_warning(r, "look swapped"));
}

TEST_CASE("lint: a location's own proxy_set_header drops the server's", "[conf][lint]") {
    auto r = lint(
        "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "
        "$connection_upgrade; proxy_read_timeout 1h;",
        "proxy_set_header Host $host; proxy_set_header X-Real-IP $remote_addr;");
    const Diagnostic* w = find_warning(r, "proxy_set_header here drops");
    REQUIRE(w);
    CHECK(w->message ==
          "proxy_set_header here drops \"Host\", \"X-Real-IP\" set at the server level");
    CHECK(w->loc.line == 5);
    auto repeated = lint("proxy_set_header Host $host; proxy_set_header X-Real-IP $remote_addr;",
                         "proxy_set_header Host $host; proxy_set_header X-Real-IP $remote_addr;");
    CHECK_FALSE(find_warning(repeated, "drops"));
}

TEST_CASE("lint: proxy_pass slash mismatches", "[conf][lint]") {
    auto a = load_text(in_server("location /api { proxy_pass http://h/x/; }"));
    const Diagnostic* w = find_warning(a, "differ in their trailing \"/\"");
    REQUIRE(w);
    CHECK(w->message ==
          "\"location /api\" and \"proxy_pass .../x/\" differ in their trailing \"/\": "
          "a request for /api/a goes upstream as /x//a");
    auto b = load_text(in_server("location /api/ { proxy_pass http://h/x; }"));
    REQUIRE(find_warning(b, "a request for /api/a goes upstream as /xa"));
    auto ok =
        load_text(in_server("location /api/ { proxy_pass http://h/x/; }\n"
                            "location /b { proxy_pass http://h; }"));
    CHECK(warnings(ok).empty());
}

TEST_CASE("lint: a header set twice, and typographic quotes", "[conf][lint]") {
    auto r =
        load_text(in_server("location / { proxy_pass http://h; proxy_set_header Connection "
                            "\"\"; proxy_set_header Connection \xE2\x80\x9C\xE2\x80\x9D; }"));
    REQUIRE_LOADS(r);
    REQUIRE(find_warning(r, "\"Connection\" is set twice at this level"));
    REQUIRE(find_warning(r, "contains typographic quotes"));
}
