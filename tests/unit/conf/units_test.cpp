#include "conf/units.h"

#include <catch2/catch.hpp>

using namespace ferry::conf;

TEST_CASE("units: numbers are plain decimal digits", "[conf][units]") {
    CHECK(parse_number("0") == 0);
    CHECK(parse_number("1234") == 1234);
    CHECK_FALSE(parse_number(""));
    CHECK_FALSE(parse_number("-1"));
    CHECK_FALSE(parse_number("1.5"));
    CHECK_FALSE(parse_number("12a"));
    CHECK_FALSE(parse_number("99999999999999999999999"));
}

TEST_CASE("units: sizes take k and m, and g only for offsets", "[conf][units]") {
    CHECK(parse_size("512") == 512);
    CHECK(parse_size("16k") == 16 * 1024);
    CHECK(parse_size("16K") == 16 * 1024);
    CHECK(parse_size("1m") == 1024 * 1024);
    CHECK(parse_size("1M") == 1024 * 1024);
    CHECK_FALSE(parse_size("1g"));
    CHECK(parse_size("1g", true) == 1024LL * 1024 * 1024);
    CHECK_FALSE(parse_size("k"));
    CHECK_FALSE(parse_size("1.5m"));
    CHECK_FALSE(parse_size("1kb"));
    CHECK_FALSE(parse_size(""));
}

TEST_CASE("units: durations in milliseconds", "[conf][units]") {
    CHECK(parse_msec("60") == 60000);
    CHECK(parse_msec("950s") == 950000);
    CHECK(parse_msec("500ms") == 500);
    CHECK(parse_msec("1h30m") == 90 * 60 * 1000);
    CHECK(parse_msec("1h 30m") == 90 * 60 * 1000);
    CHECK(parse_msec("2d") == 2LL * 86400 * 1000);
    CHECK(parse_msec("1w") == 7LL * 86400 * 1000);
    CHECK(parse_msec("1m1s1ms") == 61001);
    // nginx: units must decrease, and milliseconds values may not use months or years
    CHECK_FALSE(parse_msec("30m1h"));
    CHECK_FALSE(parse_msec("1s1s"));
    CHECK_FALSE(parse_msec("1M"));
    CHECK_FALSE(parse_msec("1y"));
    CHECK_FALSE(parse_msec("1x"));
    CHECK_FALSE(parse_msec("s"));
    CHECK_FALSE(parse_msec(""));
    CHECK_FALSE(parse_msec("-1s"));
    CHECK_FALSE(parse_msec("99999999999999999y"));
}

TEST_CASE("units: durations in seconds allow months and years, not ms", "[conf][units]") {
    CHECK(parse_time("1y", true) == 365LL * 86400);
    CHECK(parse_time("1M", true) == 30LL * 86400);
    CHECK(parse_time("1y1M", true) == 395LL * 86400);
    CHECK(parse_time("10", true) == 10);
    CHECK_FALSE(parse_time("500ms", true));
}
