// Where a URI lands on disk: root, prefix alias, regex alias, and the paths that must
// never map (climbing out of the root), including what $uri normalisation lets through
// when a traversal arrives encoded.
#include "http/static_path.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "http/uri.h"

using ferry::http::map_uri_to_path;
using ferry::http::normalise_uri;
using ferry::http::normalised_uri_capacity;
using ferry::http::path_extension;
using ferry::http::PathMapping;
using ferry::http::uri_escapes;

namespace {

std::string mapped(const PathMapping& m, std::string_view uri, size_t* root_len = nullptr) {
    std::string out;
    size_t len = 0;
    if (!map_uri_to_path(m, uri, out, len)) return "<refused>";
    if (root_len) *root_len = len;
    return out;
}

}  // namespace

TEST_CASE("static path: root is prepended to $uri", "[http][static]") {
    PathMapping m{"/srv/www", false, 0, false};
    size_t root_len = 0;
    CHECK(mapped(m, "/a/b.html", &root_len) == "/srv/www/a/b.html");
    CHECK(root_len == 8);
    CHECK(mapped(m, "/") == "/srv/www/");
}

TEST_CASE("static path: a prefix alias replaces the location's name", "[http][static]") {
    PathMapping m{"/data/images/", true, 3, false};  // location /i/ { alias /data/images/; }
    CHECK(mapped(m, "/i/top.gif") == "/data/images/top.gif");
    CHECK(mapped(m, "/i/") == "/data/images/");
    PathMapping no_slash{"/data/images", true, 2, false};  // location /i { alias /data/images; }
    CHECK(mapped(no_slash, "/i/top.gif") == "/data/images/top.gif");
    CHECK(mapped(no_slash, "/ixx") == "/data/imagesxx");  // as nginx: plain concatenation
    // The off-by-slash alias: nginx maps "/i../x" to "/data/images/../x"; ferry refuses.
    PathMapping off_by_slash{"/data/images/", true, 2, false};
    CHECK(mapped(off_by_slash, "/i../secret") == "<refused>");
    CHECK(mapped(off_by_slash, "/i/ok") == "/data/images//ok");
}

TEST_CASE("static path: a regex alias is the whole file name", "[http][static]") {
    PathMapping m{"/data/w3/images/top.gif", true, 0, true};
    CHECK(mapped(m, "/anything/top.gif") == "/data/w3/images/top.gif");
    PathMapping climbing{"/data/../etc/passwd", true, 0, true};
    CHECK(mapped(climbing, "/x") == "<refused>");
}

TEST_CASE("static path: URIs that could leave the root never map", "[http][static]") {
    PathMapping m{"/srv", false, 0, false};
    for (std::string_view uri :
         {"/../etc/passwd", "/a/../../etc", "/..", "/.", "/a/./b", "relative", "", "/a/.."}) {
        INFO(uri);
        CHECK(mapped(m, uri) == "<refused>");
    }
    CHECK(mapped(m, std::string_view("/a\0b", 4)) == "<refused>");
    CHECK_FALSE(uri_escapes("/a/..b/.c/..."));  // dots inside names are names
    CHECK(mapped(m, "/a/..b") == "/srv/a/..b");
}

TEST_CASE("static path: encoded traversals are resolved or refused by $uri normalisation",
          "[http][static]") {
    PathMapping m{"/srv", false, 0, false};
    // Each of these either fails to normalise (400) or normalises inside the root.
    for (std::string_view target :
         {"/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/a/%2e%2e/%2e%2e/etc", "/..%2f..%2fetc",
          "/%252e%252e/etc", "/a/.%2e/b", "/%c0%ae%c0%ae/etc", "/..\\..\\etc", "/a//..//b",
          "/a/%00/b", "/.%2e"}) {
        INFO(target);
        std::vector<char> buf(normalised_uri_capacity(target.size()));
        auto parsed = normalise_uri(target, true, buf.data());
        if (!parsed) continue;
        std::string path = mapped(m, parsed->path);
        CHECK(path != "<refused>");
        CHECK(path.rfind("/srv/", 0) == 0);
        CHECK_FALSE(uri_escapes(parsed->path));
    }
}

TEST_CASE("static path: extensions come from the last segment", "[http][static]") {
    CHECK(path_extension("/a/b.tar.gz") == "gz");
    CHECK(path_extension("/a.d/b") == "");
    CHECK(path_extension("/a/.hidden") == "hidden");
    CHECK(path_extension("/a/b.") == "");
}
