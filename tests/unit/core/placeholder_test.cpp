#include <catch2/catch.hpp>

TEST_CASE("core: the test binary links", "[core]") { REQUIRE(1 + 1 == 2); }
