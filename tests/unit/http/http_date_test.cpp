#include "http/http_date.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

using ferry::http::format_http_date;
using ferry::http::http_date_size;
using ferry::http::thread_time_cache;
using ferry::http::TimeCache;

namespace {

// Sets the process time zone for the duration of a test.
class ScopedTz {
  public:
    explicit ScopedTz(const char* tz) {
        const char* old = std::getenv("TZ");
        had_ = old != nullptr;
        if (had_) old_ = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~ScopedTz() {
        if (had_)
            setenv("TZ", old_.c_str(), 1);
        else
            unsetenv("TZ");
        tzset();
    }

  private:
    bool had_ = false;
    std::string old_;
};

constexpr time_t kWed2026 = 1795643150;  // Wed, 25 Nov 2026 21:45:50 GMT

}  // namespace

TEST_CASE("time: the HTTP date is an IMF-fixdate", "[http][time]") {
    char buf[http_date_size];
    CHECK(std::string(buf, format_http_date(kWed2026, buf)) == "Wed, 25 Nov 2026 21:45:50 GMT");
    CHECK(std::string(buf, format_http_date(0, buf)) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(std::string(buf, format_http_date(951782400, buf)) == "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST_CASE("time: log formats in UTC", "[http][time]") {
    ScopedTz tz("UTC0");
    TimeCache c;
    c.update(timespec{kWed2026, 123456789});
    CHECK(c.seconds() == kWed2026);
    CHECK(c.http_date() == "Wed, 25 Nov 2026 21:45:50 GMT");
    CHECK(c.time_local() == "25/Nov/2026:21:45:50 +0000");
    CHECK(c.time_iso8601() == "2026-11-25T21:45:50+00:00");
    CHECK(c.error_log_time() == "2026/11/25 21:45:50");
    CHECK(c.msec() == "1795643150.123");
}

TEST_CASE("time: local formats carry the zone's offset", "[http][time]") {
    {
        ScopedTz tz("XYZ-5:30");  // POSIX: UTC+05:30
        TimeCache c;
        c.update(timespec{kWed2026, 0});
        CHECK(c.http_date() == "Wed, 25 Nov 2026 21:45:50 GMT");
        CHECK(c.time_local() == "26/Nov/2026:03:15:50 +0530");
        CHECK(c.time_iso8601() == "2026-11-26T03:15:50+05:30");
        CHECK(c.error_log_time() == "2026/11/26 03:15:50");
    }
    {
        ScopedTz tz("XYZ3");  // UTC-03:00
        TimeCache c;
        c.update(timespec{kWed2026, 0});
        CHECK(c.time_local() == "25/Nov/2026:18:45:50 -0300");
        CHECK(c.time_iso8601() == "2026-11-25T18:45:50-03:00");
    }
}

TEST_CASE("time: strings change with the second, $msec with the millisecond", "[http][time]") {
    ScopedTz tz("UTC0");
    TimeCache c;
    c.update(timespec{kWed2026, 5000000});
    CHECK(c.msec() == "1795643150.005");
    const char* date_before = c.http_date().data();
    c.update(timespec{kWed2026, 999000000});
    CHECK(c.msec() == "1795643150.999");
    CHECK(c.http_date() == "Wed, 25 Nov 2026 21:45:50 GMT");
    CHECK(c.http_date().data() == date_before);  // the same buffer, no allocation
    c.update(timespec{kWed2026 + 1, 0});
    CHECK(c.http_date() == "Wed, 25 Nov 2026 21:45:51 GMT");
    CHECK(c.msec() == "1795643151.000");
}

TEST_CASE("time: each thread has a cache holding the current time", "[http][time]") {
    TimeCache& c = thread_time_cache();
    CHECK(&c == &thread_time_cache());
    time_t now = time(nullptr);
    CHECK(c.seconds() <= now);
    c.update_now();
    CHECK(c.seconds() >= now);
    CHECK(c.http_date().size() == 29);
}
