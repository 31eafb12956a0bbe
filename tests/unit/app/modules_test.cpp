// The module table behind `ferry -V`: every flag comes from one entry, so flipping an
// entry's ferry_has is all it takes for nginx-tests to run (or skip) that module's files.
#include "app/modules.h"

#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <string>

using namespace ferry::app;

TEST_CASE("configure arguments are the table's differences from nginx's defaults",
          "[app][modules]") {
    std::set<std::string> flags;
    std::istringstream in(configure_arguments());
    for (std::string f; in >> f;)
        flags.insert(f);
    std::set<std::string> names;
    size_t expected = 0;
    for (const NginxModule& m : nginx_modules()) {
        INFO(m.name);
        CHECK(names.insert(std::string(m.name)).second);  // each module once
        std::string with = "--with-" + std::string(m.name);
        std::string without = "--without-" + std::string(m.name);
        CHECK(flags.count(with) == (!m.nginx_default && m.ferry_has ? 1u : 0u));
        CHECK(flags.count(without) == (m.nginx_default && !m.ferry_has ? 1u : 0u));
        expected += m.nginx_default != m.ferry_has;
    }
    CHECK(flags.size() == expected);
    CHECK(configure_arguments().rfind(" --with", 0) == 0);
}

TEST_CASE("ferry's modules: http, proxy, map, rewrite, keepalive, ssl, pcre", "[app][modules]") {
    std::set<std::string> has;
    for (const NginxModule& m : nginx_modules()) {
        if (m.ferry_has) has.insert(std::string(m.name));
    }
    CHECK(has == std::set<std::string>{"http", "pcre", "http_map_module", "http_proxy_module",
                                       "http_rewrite_module", "http_upstream_keepalive_module",
                                       "http_ssl_module"});
}
