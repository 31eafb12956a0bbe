// nginx's not_modified and range filters as ferry applies them to files.
#include "http/file_conditions.h"

#include <catch2/catch.hpp>

using namespace ferry::http;

TEST_CASE("file conditions: ETag in nginx's shape", "[http][static]") {
    CHECK(file_facts(0x5f5e1000, 0x1234, true).etag == "\"5f5e1000-1234\"");
    CHECK(file_facts(0x5f5e1000, 0x1234, false).etag.empty());
}

TEST_CASE("file conditions: HTTP dates in the three formats", "[http][static]") {
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK_FALSE(parse_http_date("yesterday"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk"));
}

TEST_CASE("file conditions: single ranges", "[http][static]") {
    auto r = parse_range("bytes=0-4", 10);
    CHECK(r.status == 206);
    CHECK(r.start == 0);
    CHECK(r.end == 5);
    r = parse_range("bytes=5-", 10);
    CHECK((r.status == 206 && r.start == 5 && r.end == 10));
    r = parse_range("bytes=-3", 10);
    CHECK((r.status == 206 && r.start == 7 && r.end == 10));
    r = parse_range("bytes=-30", 10);
    CHECK((r.status == 200 || (r.status == 206 && r.start == 0 && r.end == 10)));
    r = parse_range("bytes=2-100", 10);
    CHECK((r.status == 206 && r.start == 2 && r.end == 10));
    CHECK(parse_range("bytes=10-", 10).status == 416);
    CHECK(parse_range("bytes=20-30", 10).status == 416);
    CHECK(parse_range("bytes=5-2", 10).status == 416);
    CHECK(parse_range("bytes=x", 10).status == 416);
    CHECK(parse_range("items=0-1", 10).status == 200);
    CHECK(parse_range("bytes=0-1,3-4", 10).status == 200);  // no multipart: the whole file
}
