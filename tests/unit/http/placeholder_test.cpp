#include <catch2/catch.hpp>

TEST_CASE("http: the test binary links", "[http]") { REQUIRE(1 + 1 == 2); }
