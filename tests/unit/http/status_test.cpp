#include "http/status.h"

#include <catch2/catch.hpp>
#include <string>

using ferry::http::error_page;
using ferry::http::reason_phrase;
using ferry::http::status_line;
using ferry::http::wire_status;

TEST_CASE("status: reason phrases", "[http][status]") {
    CHECK(reason_phrase(200) == "OK");
    CHECK(reason_phrase(404) == "Not Found");
    CHECK(reason_phrase(413) == "Request Entity Too Large");
    CHECK(reason_phrase(502) == "Bad Gateway");
    CHECK(reason_phrase(101) == "Switching Protocols");
    CHECK(reason_phrase(299).empty());
    CHECK(reason_phrase(0).empty());
    CHECK(reason_phrase(999).empty());
}

TEST_CASE("status: ferry's own 4xx codes go out as 400", "[http][status]") {
    for (int code : {494, 495, 496, 497}) {
        CHECK(wire_status(code) == 400);
        CHECK(status_line(code) == "HTTP/1.1 400 Bad Request\r\n");
    }
    CHECK(wire_status(404) == 404);
    CHECK(wire_status(499) == 499);
}

TEST_CASE("status: status lines", "[http][status]") {
    CHECK(status_line(200) == "HTTP/1.1 200 OK\r\n");
    CHECK(status_line(301) == "HTTP/1.1 301 Moved Permanently\r\n");
    CHECK(status_line(504) == "HTTP/1.1 504 Gateway Time-out\r\n");
    CHECK(status_line(299).empty());
}

TEST_CASE("status: error pages have nginx's shape with ferry's name", "[http][status]") {
    CHECK(error_page(404) ==
          "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
          "<center><h1>404 Not Found</h1></center>\r\n<hr><center>ferry</center>\r\n"
          "</body>\r\n</html>\r\n");
    CHECK(error_page(494) ==
          "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n"
          "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
          "<center>Request Header Or Cookie Too Large</center>\r\n"
          "<hr><center>ferry</center>\r\n</body>\r\n</html>\r\n");
    std::string versioned(error_page(502, true));
    CHECK(versioned.find("<h1>502 Bad Gateway</h1>") != std::string::npos);
    CHECK(versioned.find("<hr><center>ferry/" FERRY_VERSION "</center>\r\n") != std::string::npos);
}

TEST_CASE("status: which codes have a page", "[http][status]") {
    for (int code : {301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 408, 411, 413, 414,
                     416, 421, 429, 494, 495, 496, 497, 500, 501, 502, 503, 504, 505, 507}) {
        INFO("code " << code);
        std::string page(error_page(code));
        REQUIRE_FALSE(page.empty());
        CHECK(page.starts_with("<html>\r\n<head><title>"));
        CHECK(page.ends_with("<hr><center>ferry</center>\r\n</body>\r\n</html>\r\n"));
        std::string heading = "<h1>" + std::to_string(wire_status(code)) + " " +
                              std::string(reason_phrase(wire_status(code))) + "</h1>";
        CHECK(page.find(heading) != std::string::npos);
    }
    for (int code : {100, 101, 200, 204, 304, 417, 418, 422, 499, 506, 599})
        CHECK(error_page(code).empty());
}
