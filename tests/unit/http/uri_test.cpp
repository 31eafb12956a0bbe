#include "http/uri.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using ferry::http::AbsoluteTarget;
using ferry::http::classify_target;
using ferry::http::escape_uri;
using ferry::http::escaped_uri_size;
using ferry::http::normalise_uri;
using ferry::http::normalised_uri_capacity;
using ferry::http::ParsedUri;
using ferry::http::proxy_uri_size;
using ferry::http::ProxyUriInput;
using ferry::http::TargetForm;
using ferry::http::validate_host;
using ferry::http::write_proxy_uri;

namespace {

struct Normalised {
    bool ok = false;
    std::string path, args;
    bool quoted = false, plus = false, valid_unparsed = true;
};

Normalised normalise(std::string_view target, bool merge_slashes = true) {
    std::string buf(normalised_uri_capacity(target.size()), '\0');
    auto r = normalise_uri(target, merge_slashes, buf.data());
    if (!r) return {};
    return {true,    std::string(r->path), std::string(r->args), r->quoted,
            r->plus, r->valid_unparsed};
}

const char* const kInvalid = "<400>";

}  // namespace

TEST_CASE("uri: $uri is normalised as nginx's parse_complex_uri does", "[http][uri]") {
    struct Case {
        const char* target;
        const char* path;  // kInvalid: nginx answers 400
        const char* args;
    };
    const std::vector<Case> cases = {
        // nginx-tests http_uri.t
        {"/foo/bar%", kInvalid, ""},
        {"/foo/bar%1", kInvalid, ""},
        {"/foo/bar/.?args", "/foo/bar/", "args"},
        {"/foo/bar/.#frag", "/foo/bar/", ""},
        {"/foo/bar/..?args", "/foo/", "args"},
        {"/foo/bar/..#frag", "/foo/", ""},
        {"/foo/bar/.", "/foo/bar/", ""},
        {"/foo/bar/..", "/foo/", ""},
        {"/%02", "/\x02", ""},
        // plain
        {"/", "/", ""},
        {"/a/b?c=d&e", "/a/b", "c=d&e"},
        {"/a?", "/a", ""},
        {"/a.b/c.d", "/a.b/c.d", ""},
        // slashes
        {"/a//b", "/a/b", ""},
        {"//a///b//", "/a/b/", ""},
        {"/a%2fb", "/a/b", ""},
        {"/a/%2F/b", "/a/b", ""},
        // dot segments
        {"/.", "/", ""},
        {"/./", "/", ""},
        {"/a/./b", "/a/b", ""},
        {"/a/../b", "/b", ""},
        {"/a/b/../", "/a/", ""},
        {"/a/./../b", "/b", ""},
        {"/a/b/c/../../d", "/a/d", ""},
        {"/a/.b", "/a/.b", ""},
        {"/a/..b", "/a/..b", ""},
        {"/a/b..", "/a/b..", ""},
        {"/...", "/...", ""},
        {"/a/.../b", "/a/.../b", ""},
        {"/a.", "/a.", ""},
        {"/a/.?", "/a/", ""},
        {"/a/%2e/b", "/a/b", ""},
        {"/a/%2e%2E/b", "/b", ""},
        {"/a/.%2e/b", "/b", ""},
        {"/a/b/%2E%2E", "/a/", ""},
        {"/a/.%2f", "/a/", ""},
        // climbing above the root
        {"/..", kInvalid, ""},
        {"/../", kInvalid, ""},
        {"/../a", kInvalid, ""},
        {"/a/../..", kInvalid, ""},
        {"/a/../../b", kInvalid, ""},
        {"/%2e%2e/a", kInvalid, ""},
        {"/.%2E", kInvalid, ""},
        {"//..", kInvalid, ""},
        {"/..?x", kInvalid, ""},
        {"/..#x", kInvalid, ""},
        // escapes
        {"/%41%42c", "/ABc", ""},
        {"/a%20b", "/a b", ""},
        {"/%e2%82%ac", "/\xe2\x82\xac", ""},
        {"/a%3Fb?c", "/a?b", "c"},
        {"/a%3fb", "/a?b", ""},
        {"/a%23b", "/a#b", ""},
        {"/a%25b", "/a%b", ""},
        {"/a%2541", "/a%41", ""},
        {"/a%25/..", "/", ""},
        {"/%3F/..", "/", ""},
        {"/a%00b", kInvalid, ""},
        {"/a%zz", kInvalid, ""},
        {"/a%4", kInvalid, ""},
        {"/a%4?x", kInvalid, ""},
        {"/a%", kInvalid, ""},
        {"/a%g0", kInvalid, ""},
        // args and fragments are not decoded or resolved
        {"/a?b%20c", "/a", "b%20c"},
        {"/a?b/../c", "/a", "b/../c"},
        {"/a?b?c", "/a", "b?c"},
        {"/a?b#c", "/a", "b"},
        {"/a#b?c", "/a", ""},
        {"/a#b/../..", "/a", ""},
        {"/a/..#", "/", ""},
        {"/a?%00", "/a", "%00"},
        // not origin-form
        {"", kInvalid, ""},
        {"a/b", kInvalid, ""},
        {"*", kInvalid, ""},
    };
    for (const Case& c : cases) {
        INFO("target: " << c.target);
        Normalised n = normalise(c.target);
        if (c.path == kInvalid) {
            CHECK_FALSE(n.ok);
            continue;
        }
        REQUIRE(n.ok);
        CHECK(n.path == c.path);
        CHECK(n.args == c.args);
    }
}

TEST_CASE("uri: merge_slashes off keeps empty segments", "[http][uri]") {
    CHECK(normalise("/a//b", false).path == "/a//b");
    CHECK(normalise("//..", false).path == "/");
    CHECK(normalise("/a//../b", false).path == "/a/b");
    CHECK(normalise("/a/%2F", false).path == "/a//");
}

TEST_CASE("uri: flags for escapes, '+' and the empty absolute path", "[http][uri]") {
    CHECK(normalise("/a%20b").quoted);
    CHECK_FALSE(normalise("/a b").quoted);
    CHECK_FALSE(normalise("/a?x=%20").quoted);  // escapes in args do not count
    CHECK(normalise("/a+b").plus);
    CHECK(normalise("/a%2Bb").plus);
    CHECK(normalise("/a%2Bb").path == "/a+b");
    CHECK_FALSE(normalise("/ab?c+d").plus);

    Normalised empty_path = normalise("?x=1");
    REQUIRE(empty_path.ok);
    CHECK(empty_path.path == "/");
    CHECK(empty_path.args == "x=1");
    CHECK_FALSE(empty_path.valid_unparsed);
    CHECK(normalise("/x").valid_unparsed);
}

TEST_CASE("uri: a target needing no change is not copied", "[http][uri]") {
    std::string_view target = "/static/app.js?v=3";
    char buf[64];
    auto r = normalise_uri(target, true, buf);
    REQUIRE(r);
    CHECK(r->path.data() == target.data());
    CHECK(r->path == "/static/app.js");
    CHECK(r->args == "v=3");
}

TEST_CASE("uri: absolute-form request targets", "[http][uri]") {
    struct Case {
        const char* target;
        TargetForm form;
        const char* scheme;
        const char* host;
        const char* rest;
    };
    const std::vector<Case> cases = {
        {"/a", TargetForm::origin, "", "", ""},
        {"http://localhost", TargetForm::absolute, "http", "localhost", ""},
        {"http://localhost/", TargetForm::absolute, "http", "localhost", "/"},
        {"http://localhost?args", TargetForm::absolute, "http", "localhost", "?args"},
        {"http://localhost:8080?args#frag", TargetForm::absolute, "http", "localhost:8080",
         "?args#frag"},
        {"HTTP://Example.COM/x", TargetForm::absolute, "HTTP", "Example.COM", "/x"},
        {"https://[::1]:443/a?b", TargetForm::absolute, "https", "[::1]:443", "/a?b"},
        {"http://h:/", TargetForm::absolute, "http", "h:", "/"},
        {"http:///a", TargetForm::absolute, "http", "", "/a"},  // then 400 from validate_host
        {"ftp://h/", TargetForm::absolute, "ftp", "h", "/"},
        {"web+s.1://h/", TargetForm::absolute, "web+s.1", "h", "/"},
        {"http://user@h/", TargetForm::invalid, "", "", ""},
        {"http://h_x/", TargetForm::invalid, "", "", ""},
        {"http://h#f", TargetForm::invalid, "", "", ""},
        {"http://h:80:90/", TargetForm::invalid, "", "", ""},
        {"http://h:8a/", TargetForm::invalid, "", "", ""},
        {"http://[::1", TargetForm::invalid, "", "", ""},
        {"http://[::1]x/", TargetForm::invalid, "", "", ""},
        {"http://[a/b]/", TargetForm::invalid, "", "", ""},
        {"http:/h", TargetForm::invalid, "", "", ""},
        {"http:", TargetForm::invalid, "", "", ""},
        {"1http://h/", TargetForm::invalid, "", "", ""},
        {"*", TargetForm::invalid, "", "", ""},
        {"", TargetForm::invalid, "", "", ""},
    };
    for (const Case& c : cases) {
        INFO("target: " << c.target);
        AbsoluteTarget t;
        REQUIRE(classify_target(c.target, &t) == c.form);
        if (c.form != TargetForm::absolute) continue;
        CHECK(t.scheme == c.scheme);
        CHECK(t.host == c.host);
        CHECK(t.path_and_query == c.rest);
    }
}

TEST_CASE("uri: Host is validated and normalised as nginx does", "[http][uri]") {
    struct Case {
        std::string host;
        const char* expect;  // kInvalid: 400
        uint32_t port;
    };
    // nginx-tests http_host.t, then more edges.
    const std::vector<Case> cases = {
        {"", kInvalid, 0},
        {"l", "l", 0},
        {"L", "l", 0},
        {"abcd-ef.g02.xyz:", "abcd-ef.g02.xyz", 0},
        {"123.40.56.78:", "123.40.56.78", 0},
        {"www.abcd-ef.g02.xyz", "www.abcd-ef.g02.xyz", 0},
        {"abcd-ef.g02.xyz:8080", "abcd-ef.g02.xyz", 8080},
        {"www.abcd-ef.g02.xyz.", "www.abcd-ef.g02.xyz", 0},
        {"abcd-ef.g02.xyz.:88", "abcd-ef.g02.xyz", 88},
        {"example.com.:1.2", kInvalid, 0},
        {".", kInvalid, 0},
        {"AbC-d93.0.34ZhGt-s.nk.Ru:88", "abc-d93.0.34zhgt-s.nk.ru", 88},
        {"123.49.0.78:987", "123.49.0.78", 987},
        {"123.49.0.78:98777", kInvalid, 0},
        {"123.40.56.78:9000:80", kInvalid, 0},
        {"[abcd::ef98:0:7654:321]", "[abcd::ef98:0:7654:321]", 0},
        {"[abcd::ef98:0:7654:321]:80", "[abcd::ef98:0:7654:321]", 80},
        {"[::ffff:12.30.67.89]", "[::ffff:12.30.67.89]", 0},
        {"[::123.45.67.89]:4321", "[::123.45.67.89]", 4321},
        {"[ABCD::1]", "[abcd::1]", 0},
        {"example.com/\\:552", kInvalid, 0},
        {"..examp-LE.com", kInvalid, 0},
        {"a..b", kInvalid, 0},
        {"[abcd::e\\f98:0/:7654:321]", kInvalid, 0},
        {"[abcd::ef98:0:7654:321].", kInvalid, 0},
        {"[abcd::ef98:0:7654:321].:98", kInvalid, 0},
        {"[abcd::ef98:0:7654:321]..:98", kInvalid, 0},
        {"[ab..cd::ef98:0:7654:321]", kInvalid, 0},
        {"extra[abcd::ef98:0:7654:321]:98", kInvalid, 0},
        {"[abcd::ef98:0:7654:321", kInvalid, 0},
        {"[v0123456789aBcDeF.!$&'()*+,;=-._~AbCdEfGhIjKlMnOpQrStUvWxYz0123456789:]",
         "[v0123456789abcdef.!$&'()*+,;=-._~abcdefghijklmnopqrstuvwxyz0123456789:]", 0},
        {"localhost\x02", kInvalid, 0},
        {std::string("local\0host", 10), kInvalid, 0},
        {"a b", kInvalid, 0},
        {"a/b", kInvalid, 0},
        {"a@b", kInvalid, 0},
        {":80", kInvalid, 0},
        {"a:65535", "a", 65535},
        {"a:65536", kInvalid, 0},
        {"a:99999999999", kInvalid, 0},
        {".example.com", ".example.com", 0},  // a leading dot is accepted
        {"a%41_~!$&'()*+,;=", "a%41_~!$&'()*+,;=", 0},
        {"[a%41]", kInvalid, 0},
        {"\xc3\xa9.com", kInvalid, 0},
    };
    for (const Case& c : cases) {
        INFO("host: " << c.host);
        std::string buf(c.host.size(), '\0');
        auto r = validate_host(c.host, buf.data());
        if (c.expect == kInvalid) {
            CHECK_FALSE(r);
            continue;
        }
        REQUIRE(r);
        CHECK(r->host == c.expect);
        CHECK(r->port == c.port);
    }
}

TEST_CASE("uri: a lowercase Host is returned without copying", "[http][uri]") {
    std::string_view host = "example.com:80";
    char buf[32];
    auto r = validate_host(host, buf);
    REQUIRE(r);
    CHECK(r->host.data() == host.data());
}

TEST_CASE("uri: escaping follows nginx's NGX_ESCAPE_URI set", "[http][uri]") {
    for (int c = 0; c < 256; ++c) {
        INFO("byte " << c);
        std::string s(1, static_cast<char>(c));
        bool expect_escaped =
            c <= 0x20 || c >= 0x7f ||
            std::string_view("\"#%<>?\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos;
        CHECK(escaped_uri_size(s) == (expect_escaped ? 3u : 1u));
    }
    std::string in = "/a b/\xc3\xa4?#%/~!$&'()*+,;=:@[]";
    std::string out(escaped_uri_size(in), '\0');
    char* end = escape_uri(in, out.data());
    CHECK(end == out.data() + out.size());
    CHECK(out == "/a%20b/%C3%A4%3F%23%25/~!$&'()*+,;=:@[]");
}

TEST_CASE("uri: escaping then normalising gives back the path", "[http][uri]") {
    std::string path = "/";
    for (int c = 1; c < 256; ++c)
        if (c != '/' && c != '.') path += static_cast<char>(c);
    std::string escaped(escaped_uri_size(path), '\0');
    escape_uri(path, escaped.data());
    Normalised n = normalise(escaped);
    REQUIRE(n.ok);
    CHECK(n.path == path);
}

namespace {

// Runs a raw request target through normalisation, then proxy_pass's URI mapping.
std::string proxied(std::string_view location, std::optional<std::string_view> uri_part,
                    std::string_view target) {
    std::string buf(normalised_uri_capacity(target.size()), '\0');
    auto parsed = normalise_uri(target, true, buf.data());
    REQUIRE(parsed);
    ProxyUriInput in;
    in.location = location;
    in.uri_part = uri_part;
    in.uri = parsed->path;
    in.args = parsed->args;
    in.request_uri = target;
    in.quoted = parsed->quoted;
    in.valid_unparsed = parsed->valid_unparsed;
    std::string out(proxy_uri_size(in), '\0');
    size_t n = write_proxy_uri(in, out.data());
    CHECK(n == out.size());
    return out;
}

}  // namespace

TEST_CASE("uri: proxy_pass sends the URI nginx sends", "[http][uri]") {
    struct Case {
        const char* location;
        const char* uri_part;  // nullptr: proxy_pass without a URI
        const char* target;
        const char* upstream;
    };
    const std::vector<Case> cases = {
        // nginx's proxy_pass documentation
        {"/name/", "/remote/", "/name/foo?x=1", "/remote/foo?x=1"},
        {"/name/", nullptr, "/name/foo?x=1", "/name/foo?x=1"},
        {"/some/path/", "/", "/some/path/a/b", "/a/b"},
        // prefix without a trailing slash
        {"/app", "/x", "/app/y", "/x/y"},
        {"/app", "/x", "/appz", "/xz"},
        {"/app", "/x", "/app", "/x"},
        // the location name is replaced in the normalised URI
        {"/name/", "/remote/", "/name/./a//b/../c", "/remote/a/c"},
        {"/name/", "/remote/", "/other/../name/a", "/remote/a"},
        // without a URI part the raw request URI goes unchanged
        {"/name/", nullptr, "/name/./a//b%20?q=%41", "/name/./a//b%20?q=%41"},
        {"", nullptr, "/x%2Fy?z", "/x%2Fy?z"},  // a regex location
        // %-escapes in the client's path are re-escaped after decoding
        {"/name/", "/remote/", "/name/a%20b", "/remote/a%20b"},
        {"/name/", "/remote/", "/name/a%2Fb", "/remote/a/b"},
        {"/name/", "/remote/", "/name/%3F%23%25", "/remote/%3F%23%25"},
        {"/name/", "/remote/", "/name/%41%e2%82%ac", "/remote/A%E2%82%AC"},
        // unescaped bytes are passed as they came when the path had no escapes
        {"/name/", "/remote/", "/name/\xc3\xa4", "/remote/\xc3\xa4"},
        // args are passed as they came; an empty "?" is dropped
        {"/name/", "/remote/", "/name/a?", "/remote/a"},
        {"/name/", "/remote/", "/name/a?b%20c&d", "/remote/a?b%20c&d"},
        // an exact location
        {"/x", "/y", "/x?a=1", "/y?a=1"},
        // "http://host?args": the raw URI has no path, so the normalised one is used
        {"/", nullptr, "?a=1", "/?a=1"},
        {"/", "/base/", "?a=1", "/base/?a=1"},
    };
    for (const Case& c : cases) {
        INFO("location " << c.location << " target " << c.target);
        std::optional<std::string_view> part;
        if (c.uri_part) part = c.uri_part;
        CHECK(proxied(c.location, part, c.target) == c.upstream);
    }
}
