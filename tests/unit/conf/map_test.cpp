#include "conf/map.h"

#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

namespace {

// Supplies $http_upgrade / $host / $uri from fields; echoes anything else.
class FakeRequest final : public VariableSource {
  public:
    std::string upgrade, host, uri;
    void append(const VarRef& var, std::string& out) override {
        if (var.kind == VarKind::http_header && var.name == "upgrade") {
            out += upgrade;
        } else if (var.kind == VarKind::builtin &&
                   var.id == static_cast<uint32_t>(BuiltinVar::host)) {
            out += host;
        } else if (var.kind == VarKind::builtin &&
                   var.id == static_cast<uint32_t>(BuiltinVar::uri)) {
            out += uri;
        } else {
            out += "?";
        }
    }
};

const MapConf& map0(const LoadResult& r) {
    return *r.config->http->maps.at(0);
}

std::string eval(const MapConf& m, FakeRequest& req) {
    std::string out;
    m.evaluate(req, out);
    return out;
}

}  // namespace

TEST_CASE("map: the WebSocket idiom", "[conf][map]") {
    auto r =
        load_text(in_http("map $http_upgrade $connection_upgrade {\n  default upgrade;\n"
                          "  '' close;\n}"));
    REQUIRE_LOADS(r);
    const MapConf& m = map0(r);
    CHECK(m.variable == "connection_upgrade");
    CHECK_FALSE(m.is_volatile);
    FakeRequest req;
    CHECK(eval(m, req) == "close");
    req.upgrade = "websocket";
    CHECK(eval(m, req) == "upgrade");
}

TEST_CASE("map: exact keys are case-insensitive; regexes run in order", "[conf][map]") {
    auto r =
        load_text(in_http("map $uri $m {\n  /Exact exact;\n  ~^/a/(?<rest>.*)$ a:$rest;\n"
                          "  ~*^/B/(.*)$ b:$1;\n  ~^/a/ never;\n  \\~tilde literal;\n"
                          "  default \"d\";\n}"));
    REQUIRE_LOADS(r);
    const MapConf& m = map0(r);
    FakeRequest req;
    req.uri = "/exact";
    CHECK(eval(m, req) == "exact");
    req.uri = "/a/x/y";
    CHECK(eval(m, req) == "a:x/y");
    req.uri = "/b/z";
    CHECK(eval(m, req) == "b:z");
    req.uri = "~tilde";
    CHECK(eval(m, req) == "literal");
    req.uri = "/other";
    CHECK(eval(m, req) == "d");
    CHECK(m.regexes.size() == 3);
}

TEST_CASE("map: without a default the value is empty", "[conf][map]") {
    auto r = load_text(in_http("map $uri $m { /a 1; }"));
    REQUIRE_LOADS(r);
    FakeRequest req;
    req.uri = "/b";
    CHECK(eval(map0(r), req).empty());
    CHECK(map0(r).default_value == -1);
}

TEST_CASE("map: hostnames wildcards and a trailing dot", "[conf][map]") {
    auto r =
        load_text(in_http("map $host $site {\n  hostnames;\n  *.example.com wild;\n"
                          "  example.com exact;\n  .example.org dot;\n  www.example.* tail;\n"
                          "  default none;\n}"));
    REQUIRE_LOADS(r);
    const MapConf& m = map0(r);
    CHECK(m.hostnames);
    FakeRequest req;
    req.host = "a.example.com";
    CHECK(eval(m, req) == "wild");
    req.host = "Example.com.";
    CHECK(eval(m, req) == "exact");
    req.host = "example.org";
    CHECK(eval(m, req) == "dot");
    req.host = "www.example.net";
    CHECK(eval(m, req) == "tail");
    req.host = "nothing.test";
    CHECK(eval(m, req) == "none");
}

TEST_CASE("map: volatile and include", "[conf][map]") {
    TempDir dir;
    dir.write("nginx.conf",
              "events {}\nhttp { map $uri $m { volatile; include keys.map; default z; } }\n");
    dir.write("keys.map", "/x 1;\n/y 2;\n");
    LoadOptions o;
    o.prefix = dir.path();
    o.conf_file = "nginx.conf";
    auto r = load(o);
    REQUIRE_LOADS(r);
    CHECK(map0(r).is_volatile);
    CHECK(map0(r).exact.size() == 2);
}

TEST_CASE("map: errors", "[conf][map]") {
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $m {\n default a;\n default b;\n}")),
                     "duplicate default map parameter", 5, 2);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $m {\n a b c;\n}")),
                     "invalid number of the map parameters", 4, 2);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $m {\n A 1;\n a 2;\n}")),
                     "conflicting parameter \"a\"", 5, 2);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $m {\n hostnames;\n w.*.x 1;\n}")),
                     "invalid hostname or wildcard \"w.*.x\"", 5, 2);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri m { }")), "invalid variable name \"m\"", 3, 10);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $uri { }")), "the duplicate \"uri\" variable", 3,
                     10);
    REQUIRE_ERROR_AT(load_text(in_http("map $uri $m { a $nope; }")), "unknown \"nope\" variable", 3,
                     17);
    REQUIRE_ERROR_AT(load_text(in_server("map $uri $m { }")),
                     "\"map\" directive is not allowed here", 5, 1);
    auto twice = load_text(in_http("map $uri $m { default 1; }\nmap $host $m { default 2; }"));
    REQUIRE_LOADS(twice);
    CHECK(has_warning(twice, "variable \"$m\" is already defined by the map at"));
}

TEST_CASE("map: values are compiled once per distinct text", "[conf][map]") {
    auto r = load_text(in_http("map $uri $m { /a same; /b same; /c other; default same; }"));
    REQUIRE_LOADS(r);
    CHECK(map0(r).values.size() == 2);
}

TEST_CASE("map: a map that depends on itself is refused at load", "[conf][map]") {
    auto self = load_text(in_http("map $m $m { default 1; }"));
    REQUIRE_ERROR_AT(self, "map variable \"$m\" depends on itself", 3, 1);
    CHECK(first_error(self).hint == "the chain is $m -> $m");
    auto loop = load_text(in_http("map $uri $a { default $b; }\nmap $a $b { x y; }"));
    REQUIRE(loop.config == nullptr);
    CHECK(first_error(loop).hint == "the chain is $a -> $b -> $a");
    REQUIRE_LOADS(load_text(in_http("map $uri $a { default 1; }\nmap $a $b { default $a; }")));
}
