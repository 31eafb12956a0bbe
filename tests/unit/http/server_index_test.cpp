#include "http/server_index.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using ferry::conf::Captures;
using ferry::conf::Regex;
using ferry::conf::ServerConf;
using ferry::conf::ServerName;
using ferry::http::ServerIndex;

namespace {

// Servers built from server_name lists as written in a config.
class Servers {
  public:
    // Adds a server with `names` ("www.example.com", "*.example.com", ".example.com",
    // "www.example.*", "~regex", ""), identified by its first name.
    const ServerConf* add(std::vector<std::string> names) {
        auto s = std::make_unique<ServerConf>();
        for (const std::string& n : names) {
            ServerName sn;
            sn.name = n;
            if (n.starts_with("~")) {
                sn.kind = ServerName::Kind::regex;
                sn.name = n.substr(1);
                std::string error;
                sn.regex = Regex::compile(sn.name, true, error);  // nginx: caseless
                REQUIRE(sn.regex);
            } else if (n.starts_with("*.") || n.starts_with(".")) {
                sn.kind = ServerName::Kind::wildcard_front;
            } else if (n.ends_with(".*")) {
                sn.kind = ServerName::Kind::wildcard_back;
            }
            s->names.push_back(std::move(sn));
        }
        owned_.push_back(std::move(s));
        pointers_.push_back(owned_.back().get());
        return pointers_.back();
    }

    const std::vector<const ServerConf*>& all() const { return pointers_; }

    static std::string id(const ServerConf* s) {
        if (!s) return "null";
        if (s->names.empty()) return "(unnamed)";
        const ServerName& first = s->names.front();
        return first.kind == ServerName::Kind::regex ? "~" + first.name : first.name;
    }

  private:
    std::vector<std::unique_ptr<ServerConf>> owned_;
    std::vector<const ServerConf*> pointers_;
};

}  // namespace

TEST_CASE("servers: nginx-tests http_server_name.t", "[http][server]") {
    Servers s;
    s.add({"localhost"});
    s.add({""});
    s.add({"www.example.com"});
    s.add({"~^EXAMPLE\\.COM$"});
    s.add({"~^(?P<name>[a-z]+)\\Q.example.com\\E$"});
    s.add({"~^(?P<name>www\\p{N}+)\\.example\\.com$"});
    s.add({"many.example.com", "many2.example.com"});
    s.add({"many3.example.com", "many4.example.com"});
    s.add({"*.wc.example.com"});
    s.add({"*.pref.wc.example.com"});
    s.add({"wc2.example.*"});
    s.add({"wc2.example.com.*"});
    s.add({".dot.example.com"});
    ServerIndex index(s.all(), nullptr);

    struct Case {
        const char* host;  // already normalised (lowercase)
        const char* server;
    };
    const std::vector<Case> cases = {
        {"xxx", "localhost"},  // the default: the first server
        {"", ""},
        {"www.example.com", "www.example.com"},
        {"example.com", "~^EXAMPLE\\.COM$"},
        {"blah.example.com", "~^(?P<name>[a-z]+)\\Q.example.com\\E$"},
        {"www01.example.com", "~^(?P<name>www\\p{N}+)\\.example\\.com$"},
        {"many.example.com", "many.example.com"},
        {"many2.example.com", "many.example.com"},
        {"many3.example.com", "many3.example.com"},
        {"many4.example.com", "many3.example.com"},
        {"www.wc.example.com", "*.wc.example.com"},
        {"a.b.wc.example.com", "*.wc.example.com"},
        {"wc.example.com", "~^(?P<name>[a-z]+)\\Q.example.com\\E$"},  // "*." needs a label
        {"www.pref.wc.example.com", "*.pref.wc.example.com"},
        {"wc2.example.net", "wc2.example.*"},
        {"wc2.example.co.uk", "wc2.example.*"},
        {"wc2.example.com.pref", "wc2.example.com.*"},
        {"wc2.example", "localhost"},  // "x.*" needs a label after the dot
        {"www.dot.example.com", ".dot.example.com"},
        {"dot.example.com", ".dot.example.com"},
    };
    for (const Case& c : cases) {
        INFO("host: " << c.host);
        CHECK(Servers::id(index.find(c.host, nullptr)) == c.server);
    }

    Captures captures;
    REQUIRE(Servers::id(index.find("blah.example.com", &captures)) ==
            "~^(?P<name>[a-z]+)\\Q.example.com\\E$");
    CHECK(captures.group("blah.example.com", 1) == "blah");
}

TEST_CASE("servers: precedence is exact, leading, trailing, regex", "[http][server]") {
    Servers s;
    s.add({"default"});
    s.add({"~^www\\..*$"});
    s.add({"www.*"});
    s.add({"*.example.com"});
    s.add({"www.example.com"});
    ServerIndex index(s.all(), nullptr);
    CHECK(Servers::id(index.find("www.example.com", nullptr)) == "www.example.com");
    CHECK(Servers::id(index.find("a.example.com", nullptr)) == "*.example.com");
    CHECK(Servers::id(index.find("www.example.org", nullptr)) == "www.*");
    CHECK(Servers::id(index.find("www", nullptr)) == "default");
    CHECK(Servers::id(index.find("example.com", nullptr)) == "default");
}

TEST_CASE("servers: the longest wildcard wins whatever the config order", "[http][server]") {
    Servers s;
    s.add({"first"});
    s.add({".example.com"});
    s.add({"*.a.example.com"});
    s.add({"www.*"});
    s.add({"www.a.*"});
    ServerIndex index(s.all(), nullptr);
    CHECK(Servers::id(index.find("x.a.example.com", nullptr)) == "*.a.example.com");
    CHECK(Servers::id(index.find("a.example.com", nullptr)) == ".example.com");
    CHECK(Servers::id(index.find("x.b.example.com", nullptr)) == ".example.com");
    CHECK(Servers::id(index.find("www.a.b", nullptr)) == "www.a.*");
    CHECK(Servers::id(index.find("www.b.c", nullptr)) == "www.*");
}

TEST_CASE("servers: default_server, empty Host and conflicts", "[http][server]") {
    Servers s;
    s.add({"one", "dup", "*.dup.org"});
    const ServerConf* two = s.add({"two", "dup", ".dup.org", "~^r(\\d)$"});
    s.add({"three", "~^r(\\d)$"});
    ServerIndex index(s.all(), two);

    CHECK(index.default_server() == two);
    CHECK(Servers::id(index.find("nomatch", nullptr)) == "two");
    CHECK(Servers::id(index.find("", nullptr)) == "two");     // no server_name ""
    CHECK(Servers::id(index.find("dup", nullptr)) == "one");  // the first claim wins
    CHECK(Servers::id(index.find("a.dup.org", nullptr)) == "one");
    CHECK(Servers::id(index.find("dup.org", nullptr)) == "two");  // "*." did not claim it
    CHECK(Servers::id(index.find("r1", nullptr)) == "two");       // regexes in config order

    Servers none;
    ServerIndex empty(none.all(), nullptr);
    CHECK(empty.find("x", nullptr) == nullptr);
}

TEST_CASE("servers: an empty Host does not run regexes", "[http][server]") {
    Servers s;
    s.add({"first"});
    s.add({"~^$"});
    ServerIndex index(s.all(), nullptr);
    CHECK(Servers::id(index.find("", nullptr)) == "first");
}
