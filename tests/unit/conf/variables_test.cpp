#include "conf/variables.h"

#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

namespace {

// Answers every variable with "<kind:name-or-id>".
class EchoSource final : public VariableSource {
  public:
    void append(const VarRef& var, std::string& out) override {
        out += "<" + std::to_string(static_cast<int>(var.kind)) + ":" +
               (var.name.empty() ? std::to_string(var.id) : var.name) + ">";
    }
};

Template compile_ok(const std::string& text, const VariableRegistry& vars = VariableRegistry()) {
    Template t;
    Diagnostics diags;
    SourceLoc loc;
    INFO(text);
    REQUIRE(TemplateCompiler::compile(text, loc, false, vars, t, diags));
    return t;
}

}  // namespace

TEST_CASE("templates: literal and variable parts", "[conf][variables]") {
    Template t = compile_ok("$scheme://${host}x$request_uri?a=$arg_a");
    const auto& p = t.parts();
    REQUIRE(p.size() == 7);
    CHECK(p[0].is_var);
    CHECK(p[0].var.kind == VarKind::builtin);
    CHECK(p[0].var.id == static_cast<uint32_t>(BuiltinVar::scheme));
    CHECK(p[1].literal == "://");
    CHECK(p[2].var.id == static_cast<uint32_t>(BuiltinVar::host));
    CHECK(p[3].literal == "x");
    CHECK(p[5].literal == "?a=");
    CHECK(p[6].var.kind == VarKind::arg);
    CHECK(p[6].var.name == "a");
    CHECK(t.has_variables());
    CHECK(t.raw() == "$scheme://${host}x$request_uri?a=$arg_a");
}

TEST_CASE("templates: prefixes, captures and no variables", "[conf][variables]") {
    Template t = compile_ok(
        "$http_X_Forwarded_For $sent_http_content_type $upstream_http_server "
        "$cookie_sid $1$9");
    const auto& p = t.parts();
    CHECK(p[0].var.kind == VarKind::http_header);
    CHECK(p[0].var.name == "x_forwarded_for");
    CHECK(p[2].var.kind == VarKind::sent_http);
    CHECK(p[4].var.kind == VarKind::upstream_http);
    CHECK(p[6].var.kind == VarKind::cookie);
    CHECK(p[8].var.kind == VarKind::capture);
    CHECK(p[8].var.id == 1);
    CHECK(p[9].var.id == 9);
    Template plain = compile_ok("no variables here");
    CHECK_FALSE(plain.has_variables());
    REQUIRE(plain.parts().size() == 1);
    CHECK(plain.parts()[0].literal == "no variables here");
    CHECK(compile_ok("").parts().empty());
}

TEST_CASE("templates: evaluation is concatenation", "[conf][variables]") {
    Template t = compile_ok("a$host-b$1");
    EchoSource src;
    std::string out = "pre:";
    t.evaluate(src, out);
    CHECK(out == "pre:a<0:host>-b<" + std::to_string(static_cast<int>(VarKind::capture)) + ":1>");
}

TEST_CASE("templates: map, set and named-capture variables resolve", "[conf][variables]") {
    VariableRegistry vars;
    vars.add_map("connection_upgrade", 0);
    CHECK(vars.add_set("backend") == 0);
    CHECK(vars.add_set("other") == 1);
    CHECK(vars.add_set("backend") == 0);
    vars.add_capture_name("user");
    Template t = compile_ok("$connection_upgrade$backend$user", vars);
    CHECK(t.parts()[0].var.kind == VarKind::map);
    CHECK(t.parts()[1].var.kind == VarKind::set);
    CHECK(t.parts()[2].var.kind == VarKind::capture);
    CHECK(t.parts()[2].var.name == "user");
}

TEST_CASE("templates: nginx variables ferry lacks warn and are empty", "[conf][variables]") {
    auto r = load_text(in_server("location / { return 200 \"[$request_body_file]\"; }"));
    REQUIRE_LOADS(r);
    CHECK(has_warning(
        r, "variable \"$request_body_file\" is not supported by ferry and is always empty"));
    const Template& text = *r.config->http->servers[0]->locations[0]->ret->text;
    CHECK_FALSE(text.has_variables());
    REQUIRE(text.parts().size() == 1);
    CHECK(text.parts()[0].literal == "[]");
}

TEST_CASE("templates: variables may be used before the map or set defining them",
          "[conf][variables]") {
    auto r =
        load_text(in_http("server { listen 80; location / { return 200 $later$mapped; }\n"
                          "  location /s { set $later x; } }\n"
                          "map $host $mapped { default y; }"));
    REQUIRE_LOADS(r);
}

TEST_CASE("templates: named captures of regexes are variables", "[conf][variables]") {
    auto r =
        load_text(in_server("server_name \"~^(?<sub>.+)\\.example\\.com$\";\n"
                            "location ~ ^/u/(?P<user>[^/]+) { return 200 $sub/$user; }"));
    REQUIRE_LOADS(r);
}

TEST_CASE("regex_group_names finds every named-group syntax", "[conf][variables]") {
    CHECK(regex_group_names("(?<a>x)(?P<b>y)(?'c'z)(?<=no)(?<!no)\\(?<d>") ==
          std::vector<std::string>{"a", "b", "c"});
}
