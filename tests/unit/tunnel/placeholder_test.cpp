#include <catch2/catch.hpp>

TEST_CASE("tunnel: the test binary links", "[tunnel]") { REQUIRE(1 + 1 == 2); }
