#include "http/location_index.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

using ferry::conf::Captures;
using ferry::conf::LocationConf;
using ferry::conf::ProxyPass;
using ferry::conf::Regex;
using ferry::http::LocationIndex;
using Kind = LocationConf::Match;
using Locations = std::vector<std::unique_ptr<LocationConf>>;

namespace {

// Builds location trees and names each location for readable expectations.
class Tree {
  public:
    Locations top;

    // Adds a location to `into` written as in nginx: "= /", "/docs/", "^~ /img/",
    // "~ \.php$", "~* \.gif$", "@named". `label` names it in the tests.
    LocationConf& add(Locations& into, const std::string& label, const std::string& spec,
                      bool proxied = false) {
        auto loc = std::make_unique<LocationConf>();
        std::string pattern = spec;
        if (spec.starts_with("= ")) {
            loc->match = Kind::exact;
            pattern = spec.substr(2);
        } else if (spec.starts_with("^~ ")) {
            loc->match = Kind::prefix_no_regex;
            pattern = spec.substr(3);
        } else if (spec.starts_with("~* ") || spec.starts_with("~ ")) {
            bool icase = spec[1] == '*';
            loc->match = icase ? Kind::regex_icase : Kind::regex;
            pattern = spec.substr(icase ? 3 : 2);
            std::string error;
            loc->regex = Regex::compile(pattern, icase, error);
            REQUIRE(loc->regex);
        } else if (spec.starts_with("@")) {
            loc->match = Kind::named;
        }
        loc->pattern = pattern;
        if (proxied) loc->proxy_pass = ProxyPass{};
        labels_[loc.get()] = label;
        into.push_back(std::move(loc));
        return *into.back();
    }
    LocationConf& add(const std::string& label, const std::string& spec, bool proxied = false) {
        return add(top, label, spec, proxied);
    }

    std::string label(const LocationConf* loc) const {
        if (loc == nullptr) return "none";
        auto it = labels_.find(loc);
        return it == labels_.end() ? "?" : it->second;
    }

    // "label", "none", or "301 label" for an auto redirect.
    std::string select(const LocationIndex& index, std::string_view uri,
                       Captures* captures = nullptr) const {
        LocationIndex::Match m = index.match(uri, captures);
        return (m.redirect_with_slash ? "301 " : "") + label(m.location);
    }

  private:
    std::map<const LocationConf*, std::string> labels_;
};

struct Expect {
    const char* uri;
    const char* selected;
};

void check_table(const Tree& tree, const LocationIndex& index, const std::vector<Expect>& table) {
    for (const Expect& e : table) {
        INFO("uri: " << e.uri);
        CHECK(tree.select(index, e.uri) == e.selected);
    }
}

}  // namespace

TEST_CASE("locations: the example of nginx's location documentation", "[http][location]") {
    Tree t;
    t.add("A", "= /");
    t.add("B", "/");
    t.add("C", "/documents/");
    t.add("D", "^~ /images/");
    t.add("E", "~* \\.(gif|jpg|jpeg)$");
    LocationIndex index(t.top);
    check_table(t, index,
                {
                    {"/", "A"},
                    {"/index.html", "B"},
                    {"/documents/document.html", "C"},
                    {"/images/1.gif", "D"},
                    {"/documents/1.jpg", "E"},
                    {"/documents/1.JPG", "E"},
                    {"/documents", "B"},
                    {"/images", "B"},
                    {"/x.gif", "E"},
                });
}

TEST_CASE("locations: nginx-tests http_location.t", "[http][location]") {
    Tree t;
    t.add("exactlyroot", "= /");
    t.add("root", "/");
    t.add("images", "^~ /images/");
    t.add("regex", "~* \\.(gif|jpg|jpeg)$");
    t.add("casefull", "~ casefull");
    t.add("/foo exact", "= /foo");
    t.add("/foo prefix", "/foo");
    t.add("/foo/ exact", "= /foo/");
    t.add("/foo/ prefix", "/foo/");
    t.add("lowercase", "/lowercase");
    t.add("uppercase", "/UPPERCASE");
    LocationIndex index(t.top);
    check_table(t, index,
                {
                    {"/", "exactlyroot"},
                    {"/x", "root"},
                    {"/images/t.gif", "images"},
                    {"/t.gif", "regex"},
                    {"/t.GIF", "regex"},
                    {"/casefull/t.gif", "regex"},  // the first regex wins
                    {"/casefull/", "casefull"},
                    {"/foo", "/foo exact"},
                    {"/foobar", "/foo prefix"},
                    {"/foo/", "/foo/ exact"},
                    {"/foo/bar", "/foo/ prefix"},
                    {"/CASEFULL/", "root"},
                    {"/lowercase", "lowercase"},
                    {"/UPPERCASE", "uppercase"},
                    {"/uppercase", "root"},
                });
}

TEST_CASE("locations: nginx-tests http_location_auto.t ('-' sorts above '/')", "[http][location]") {
    Tree t;
    t.add("a/", "/a/", true);
    t.add("a-a", "/a-a");
    t.add("a-b", "/a-b");
    LocationIndex index(t.top);
    check_table(t, index,
                {
                    {"/a", "301 a/"},
                    {"/a/", "a/"},
                    {"/a-a", "a-a"},
                    {"/a-b", "a-b"},
                    {"/a-", "none"},
                });
}

TEST_CASE("locations: the auto redirect to a proxied location's slash", "[http][location]") {
    Tree t;
    t.add("root", "/");
    t.add("app/", "/app/", true);
    t.add("static/", "/static/");     // not proxied: no redirect
    t.add("=api/", "= /api/", true);  // exact locations redirect too
    t.add("=svc", "= /svc");          // an exact name for the URI wins
    t.add("svc/", "/svc/", true);
    t.add("pre", "/pre");  // a prefix equal to the URI wins
    t.add("pre/", "/pre/", true);
    t.add("php", "~ \\.php$");
    t.add("app-regex", "~ ^/app$");
    LocationIndex index(t.top);
    check_table(t, index,
                {
                    {"/app", "301 app/"},  // regexes are not consulted
                    {"/app/", "app/"},
                    {"/app/x.php", "php"},
                    {"/static", "root"},
                    {"/api", "301 =api/"},
                    {"/api/", "=api/"},
                    {"/api/x", "root"},
                    {"/svc", "=svc"},
                    {"/pre", "pre"},
                    {"/ap", "root"},
                });
}

TEST_CASE("locations: nested locations and regexes", "[http][location]") {
    Tree t;
    LocationConf& root = t.add("/", "/");
    t.add(root.locations, "/ >php", "~ \\.php$");
    LocationConf& a = t.add("/a/", "/a/");
    t.add(a.locations, "/a/ >/a/b/", "/a/b/");
    t.add(a.locations, "/a/ >txt", "~ ^/a/.*\\.txt$");
    t.add(a.locations, "/a/ >=/a/x", "= /a/x");
    t.add("txt", "~ \\.txt$");
    LocationConf& r = t.add("^/r/", "~ ^/r/");
    t.add(r.locations, "^/r/ >/r/n/", "/r/n/");
    t.add(r.locations, "^/r/ >md", "~ \\.md$");
    LocationConf& s = t.add("^~/s/", "^~ /s/");
    t.add(s.locations, "^~/s/ >txt", "~ \\.txt$");
    t.add(s.locations, "^~/s/ >/s/t/", "/s/t/");
    LocationConf& q = t.add("/q/", "/q/");
    t.add(q.locations, "/q/ >^~/q/w/", "^~ /q/w/");
    LocationIndex index(t.top);
    check_table(t, index,
                {
                    {"/x.php", "/ >php"},  // the nested regex of "/"
                    {"/x.txt", "txt"},
                    {"/x.html", "/"},
                    {"/a/b/c.html", "/a/ >/a/b/"},
                    {"/a/b/c.txt", "/a/ >txt"},  // nested regexes come first
                    {"/a/c.txt", "/a/ >txt"},
                    {"/a/x", "/a/ >=/a/x"},
                    {"/a/xy", "/a/"},
                    {"/r/z", "^/r/"},
                    {"/r/n/z", "^/r/ >/r/n/"},  // a prefix inside a regex location
                    {"/r/n/z.md", "^/r/ >md"},
                    {"/r/n/z.txt", "txt"},       // the first top-level regex is "txt"
                    {"/s/a.txt", "^~/s/ >txt"},  // ^~ stops the outer regexes, not its own
                    {"/s/t/a.txt", "^~/s/ >txt"},
                    {"/s/t/a.html", "^~/s/ >/s/t/"},
                    {"/s/a.php", "^~/s/"},
                    // nginx reads ^~ of the prefix found at each level: a nested ^~ does
                    // not stop the enclosing level's regexes
                    {"/q/w/a.txt", "txt"},
                    {"/q/w/a.html", "/q/ >^~/q/w/"},
                });
}

TEST_CASE("locations: nothing matches", "[http][location]") {
    Tree empty;
    LocationIndex none(empty.top);
    CHECK(none.find("/", nullptr) == nullptr);

    Tree t;
    t.add("a", "/a");
    t.add("=b", "= /b");
    t.add("c", "~ ^/c");
    LocationIndex index(t.top);
    check_table(t, index, {{"/", "none"}, {"/b/", "none"}, {"/x", "none"}, {"/a", "a"}});
}

TEST_CASE("locations: regex captures", "[http][location]") {
    Tree t;
    t.add("root", "/");
    t.add("user", "~ ^/u/(\\d+)/(?<name>\\w+)$");
    LocationIndex index(t.top);

    Captures captures;
    CHECK(t.select(index, "/u/42/bob", &captures) == "user");
    REQUIRE(captures.count() == 3);
    CHECK(captures.group("/u/42/bob", 1) == "42");
    CHECK(captures.group("/u/42/bob", 2) == "bob");

    captures.offsets = {7, 7};
    CHECK(t.select(index, "/other", &captures) == "root");
    CHECK(captures.offsets == std::vector<int>{7, 7});  // untouched without a regex match
}

TEST_CASE("locations: named locations are found by name only", "[http][location]") {
    Tree t;
    t.add("root", "/");
    t.add("fallback", "@fallback");
    LocationIndex index(t.top);
    CHECK(t.label(index.find_named("@fallback")) == "fallback");
    CHECK(index.find_named("@other") == nullptr);
    CHECK(t.select(index, "@fallback") == "none");
    CHECK(t.select(index, "/@fallback") == "root");
}

TEST_CASE("locations: a duplicate keeps the first", "[http][location]") {
    Tree t;
    t.add("first", "/a");
    t.add("second", "/a");
    t.add("=first", "= /b");
    t.add("=second", "= /b");
    LocationIndex index(t.top);
    check_table(t, index, {{"/a", "first"}, {"/ab", "first"}, {"/b", "=first"}});
}

namespace {

// nginx's documented algorithm for locations without nesting, as a linear scan: the
// reference the index must agree with.
std::string reference_select(const Tree& t, std::string_view uri) {
    const LocationConf* longest = nullptr;
    const LocationConf* redirect = nullptr;
    bool name_equals_uri = false;
    for (const auto& loc : t.top) {
        if (loc->match == Kind::regex || loc->match == Kind::regex_icase) continue;
        if (loc->pattern == uri) {
            name_equals_uri = true;
            if (loc->match == Kind::exact) return t.label(loc.get());
        }
        if (loc->match != Kind::exact && uri.starts_with(loc->pattern) &&
            (!longest || loc->pattern.size() > longest->pattern.size()))
            longest = loc.get();
        if (loc->proxy_pass && loc->pattern.size() == uri.size() + 1 &&
            loc->pattern.starts_with(uri) && loc->pattern.back() == '/' && !redirect)
            redirect = loc.get();
    }
    if (redirect && !name_equals_uri) return "301 " + t.label(redirect);
    if (longest && longest->match == Kind::prefix_no_regex) return t.label(longest);
    for (const auto& loc : t.top)
        if (loc->regex && loc->regex->match(uri)) return t.label(loc.get());
    return t.label(longest);
}

std::string random_path(std::mt19937& rng, size_t max_len) {
    static constexpr char alphabet[] = "ab/-.";
    std::string s = "/";
    size_t len = std::uniform_int_distribution<size_t>(0, max_len)(rng);
    for (size_t i = 0; i < len; ++i)
        s += alphabet[std::uniform_int_distribution<int>(0, 4)(rng)];
    return s;
}

}  // namespace

TEST_CASE("locations: random flat configurations agree with a linear scan", "[http][location]") {
    std::mt19937 rng(20261125);
    const std::vector<std::string> regexes = {"~ \\.a$", "~* B/", "~ ^/a-", "~ -$"};
    for (int round = 0; round < 400; ++round) {
        Tree t;
        std::map<std::string, int> seen;  // "kind name" of the locations so far
        int count = std::uniform_int_distribution<int>(1, 12)(rng);
        for (int i = 0; i < count; ++i) {
            int kind = std::uniform_int_distribution<int>(0, 9)(rng);
            std::string spec;
            if (kind < 2) {
                spec = regexes[std::uniform_int_distribution<size_t>(0, regexes.size() - 1)(rng)];
            } else {
                std::string name = random_path(rng, 4);
                spec = kind < 5 ? "= " + name : kind < 7 ? "^~ " + name : name;
                std::string key = (kind < 5 ? "= " : "") + name;  // "^~ /a" duplicates "/a"
                if (seen[key]++) continue;
            }
            bool proxied = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
            t.add("L" + std::to_string(i) + " " + spec, spec, proxied);
        }
        LocationIndex index(t.top);
        for (int probe = 0; probe < 40; ++probe) {
            std::string uri = random_path(rng, 6);
            INFO("round " << round << " uri " << uri);
            REQUIRE(t.select(index, uri) == reference_select(t, uri));
        }
    }
}
