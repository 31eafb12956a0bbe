#include "conf/parser.h"

#include "conf/model.h"
#include "conf_test_support.h"

using namespace ferry::conf;
using namespace ferry::conf::test;

namespace {

LoadResult load_file(const TempDir& dir, const std::string& name) {
    LoadOptions o;
    o.prefix = dir.path();
    o.conf_file = name;
    return load(o);
}

const std::string minimal = "events {}\n";

}  // namespace

TEST_CASE("parser: directives nest into blocks with positions", "[conf][parser]") {
    std::vector<SourceFile> files;
    Diagnostics diags;
    Parser p("/tmp/", files, diags);
    std::vector<Directive> out;
    REQUIRE(p.parse_text("a 1 2;\nb {\n  c \"x y\";\n}\n", "/tmp/x.conf", out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].name == "a");
    REQUIRE(out[0].args.size() == 2);
    CHECK(out[0].args[1].loc.column == 5);
    CHECK(out[1].has_block);
    REQUIRE(out[1].block.size() == 1);
    CHECK(out[1].block[0].args[0].text == "x y");
    CHECK(out[1].block[0].args[0].quoted);
    CHECK(out[1].block[0].loc.line == 3);
    CHECK(out[1].block_end.line == 4);
}

TEST_CASE("parser: a stray '}' is an error at its position", "[conf][parser]") {
    REQUIRE_ERROR_AT(load_text("events {}\n}\n"), "unexpected \"}\"", 2, 1);
}

TEST_CASE("parser: '}' after arguments means a missing ';'", "[conf][parser]") {
    auto r = load_text("events {}\nhttp { server { listen 80 } }\n");
    REQUIRE_ERROR_AT(r, "unexpected \"}\"", 2, 27);
    CHECK(first_error(r).hint == "is a \";\" missing after \"listen\"?");
}

TEST_CASE("parser: end of file inside a block", "[conf][parser]") {
    auto r = load_text("events {}\nhttp {\n  server {\n");
    REQUIRE_ERROR_AT(r, "unexpected end of file, expecting \"}\"", 3, 10);
    CHECK(first_error(r).hint == "the block opened here is not closed");
}

TEST_CASE("parser: end of file inside a directive", "[conf][parser]") {
    REQUIRE_ERROR_AT(load_text("events {}\nworker_processes 2"),
                     "unexpected end of file, expecting \";\" or \"}\"", 2, 1);
}

TEST_CASE("parser: ';' or '{' without a directive name", "[conf][parser]") {
    REQUIRE_ERROR_AT(load_text("events {}\n;\n"), "unexpected \";\"", 2, 1);
    REQUIRE_ERROR_AT(load_text("events {}\n {}\n"), "unexpected \"{\"", 2, 2);
}

TEST_CASE("parser: blocks nested absurdly deep are refused, not recursed into", "[conf][parser]") {
    std::string deep;
    for (int i = 0; i < 5000; ++i)
        deep += "a {";
    auto r = load_text(deep);
    REQUIRE(r.config == nullptr);
    CHECK(first_error(r).message == "too many nested blocks (more than 100)");
}

TEST_CASE("parser: include is relative to the main file's directory", "[conf][parser]") {
    TempDir dir;
    dir.write("conf/nginx.conf", "include sub/a.conf;\n");
    // b.conf is named relative to the conf prefix (conf/), not to sub/.
    dir.write("conf/sub/a.conf", "include b.conf;\n");
    dir.write("conf/b.conf", minimal);
    auto r = load_file(dir, "conf/nginx.conf");
    REQUIRE_LOADS(r);
    REQUIRE(r.config->files.size() == 3);
    CHECK(r.config->files[0].path == dir.path() + "/conf/nginx.conf");
    CHECK(r.config->files[2].path == dir.path() + "/conf/b.conf");
}

TEST_CASE("parser: include globs are read in sorted order; no match is fine", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "include d/*.conf;\ninclude none/*.conf;\n");
    dir.write("d/2.conf", "worker_processes 2;\n");
    dir.write("d/1.conf", minimal);
    dir.write("d/3.txt", "garbage");
    auto r = load_file(dir, "nginx.conf");
    REQUIRE_LOADS(r);
    REQUIRE(r.config->files.size() == 3);
    CHECK(r.config->files[1].path == dir.path() + "/d/1.conf");
    CHECK(r.config->files[2].path == dir.path() + "/d/2.conf");
    CHECK(r.config->worker_processes == 2);
}

TEST_CASE("parser: a missing include names the file and the include", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "events {}\n  include missing.conf;\n");
    auto r = load_file(dir, "nginx.conf");
    REQUIRE_ERROR_AT(
        r, "open() \"" + dir.path() + "/missing.conf\" failed (2: No such file or directory)", 2,
        3);
}

TEST_CASE("parser: a missing main file has no position", "[conf][parser]") {
    TempDir dir;
    auto r = load_file(dir, "nope.conf");
    REQUIRE(r.config == nullptr);
    CHECK(first_error(r).message ==
          "open() \"" + dir.path() + "/nope.conf\" failed (2: No such file or directory)");
    CHECK_FALSE(first_error(r).loc.has_position());
}

TEST_CASE("parser: an unreadable include is an error", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "include adir;\n");
    dir.write("adir/x", "");
    auto r = load_file(dir, "nginx.conf");
    REQUIRE(r.config == nullptr);
    CHECK(first_error(r).message ==
          "pread() \"" + dir.path() + "/adir\" failed (21: Is a directory)");
}

TEST_CASE("parser: an include loop is caught", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "include a.conf;\n");
    dir.write("a.conf", "include b.conf;\n");
    dir.write("b.conf", "include a.conf;\n");
    auto r = load_file(dir, "nginx.conf");
    REQUIRE(r.config == nullptr);
    auto e = first_error(r);
    CHECK(e.message == "include loop: \"" + dir.path() + "/a.conf\" includes itself");
    CHECK(*e.loc.file == dir.path() + "/b.conf");
    CHECK(e.loc.line == 1);
}

TEST_CASE("parser: a file included twice (not nested) is fine and dumped once", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "events {}\nhttp {\ninclude p.conf;\ninclude p.conf;\n}\n");
    dir.write("p.conf", "proxy_connect_timeout 5s;\n");
    auto r = load_file(dir, "nginx.conf");
    REQUIRE(r.config == nullptr);  // the second include repeats the directive
    CHECK(first_error(r).message == "\"proxy_connect_timeout\" directive is duplicate");
    CHECK(r.files.size() == 2);
}

TEST_CASE("parser: includes nested too deeply are refused", "[conf][parser]") {
    TempDir dir;
    dir.write("nginx.conf", "include 0.conf;\n");
    for (int i = 0; i < 40; ++i) {
        dir.write(std::to_string(i) + ".conf", "include " + std::to_string(i + 1) + ".conf;\n");
    }
    auto r = load_file(dir, "nginx.conf");
    REQUIRE(r.config == nullptr);
    CHECK(first_error(r).message.rfind("includes nested too deeply (more than 32)", 0) == 0);
}

TEST_CASE("parser: -g directives come first and report \"in command line\"", "[conf][parser]") {
    auto ok = load_text(minimal, "worker_processes 3; daemon off;");
    REQUIRE_LOADS(ok);
    CHECK(ok.config->worker_processes == 3);
    CHECK_FALSE(ok.config->daemon);

    auto dup = load_text(minimal + "daemon on;\n", "daemon off;");
    REQUIRE_ERROR_AT(dup, "\"daemon\" directive is duplicate", 2, 1);

    auto block = load_text(minimal, "events {}");
    REQUIRE(block.config == nullptr);
    CHECK(first_error(block).message == "block directives are not supported in -g option");
    CHECK(first_error(block).loc.is_command_line());

    auto eof = load_text(minimal, "daemon off");
    CHECK(first_error(eof).message == "unexpected end of parameter, expecting \";\"");
}

TEST_CASE("parser: binary garbage is an error, never a crash", "[conf][parser]") {
    std::string garbage;
    for (int i = 0; i < 4096; ++i)
        garbage += static_cast<char>((i * 7919) % 256);
    auto r = load_text(garbage);
    REQUIRE(r.config == nullptr);
    CHECK_FALSE(first_error(r).message.empty());
    auto nul = load_text(std::string("ev\0ents {}", 10));
    REQUIRE(nul.config == nullptr);
    CHECK(first_error(nul).message == "unknown directive \"ev\\x00ents\"");
}

TEST_CASE("parser: an empty file lacks only the events section", "[conf][parser]") {
    auto r = load_text("");
    REQUIRE(r.config == nullptr);
    CHECK(first_error(r).message == "no \"events\" section in configuration");
}
