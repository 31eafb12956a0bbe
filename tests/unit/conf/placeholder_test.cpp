#include <catch2/catch.hpp>

TEST_CASE("conf: the test binary links", "[conf]") { REQUIRE(1 + 1 == 2); }
