#include "conf/hostname_table.h"

#include <catch2/catch.hpp>

using namespace ferry::conf;

TEST_CASE("hostnames: exact names win over wildcards", "[conf][hostnames]") {
    HostnameTable t;
    REQUIRE(t.add("www.example.com", 1) == HostnameTable::AddResult::ok);
    REQUIRE(t.add("*.example.com", 2) == HostnameTable::AddResult::ok);
    REQUIRE(t.add("www.example.*", 3) == HostnameTable::AddResult::ok);
    CHECK(t.find("www.example.com") == 1);
    CHECK(t.find("api.example.com") == 2);
    CHECK(t.find("a.b.example.com") == 2);
    CHECK(t.find("www.example.org") == 3);
    CHECK(t.find("example.com") == -1);
}

TEST_CASE("hostnames: the longest leading wildcard wins", "[conf][hostnames]") {
    HostnameTable t;
    t.add("*.example.com", 1);
    t.add("*.api.example.com", 2);
    CHECK(t.find("x.api.example.com") == 2);
    CHECK(t.find("x.www.example.com") == 1);
}

TEST_CASE("hostnames: .example.com matches the domain and its subdomains", "[conf][hostnames]") {
    HostnameTable t;
    REQUIRE(t.add(".example.com", 7) == HostnameTable::AddResult::ok);
    CHECK(t.find("example.com") == 7);
    CHECK(t.find("a.example.com") == 7);
    CHECK(t.find("badexample.com") == -1);
    CHECK(t.add("example.com", 8) == HostnameTable::AddResult::conflict);
}

TEST_CASE("hostnames: malformed wildcards and repeats", "[conf][hostnames]") {
    HostnameTable t;
    CHECK(t.add("www.*.com", 1) == HostnameTable::AddResult::invalid);
    CHECK(t.add("*.a.*", 1) == HostnameTable::AddResult::invalid);
    CHECK(t.add("a..b", 1) == HostnameTable::AddResult::invalid);
    CHECK(t.add("Example.COM", 1) == HostnameTable::AddResult::ok);
    CHECK(t.add("example.com", 2) == HostnameTable::AddResult::conflict);
    CHECK(t.find("example.com") == 1);
}
