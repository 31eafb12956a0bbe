// Formatted times for headers and logs, cached per thread: a worker formats them at most
// once per second ($msec once per millisecond) however many requests it serves, and a
// lookup is a string_view of a fixed buffer (no allocation, no formatting).
//
// A worker calls thread_time_cache().update(now) once per loop iteration (after
// epoll_wait) and reads the strings while handling events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string_view>

namespace ferry::http {

class TimeCache {
  public:
    // Refreshes the strings when `now` (CLOCK_REALTIME) is in another second than the
    // last update, and $msec when in another millisecond.
    void update(const timespec& now);
    // update() with the current CLOCK_REALTIME.
    void update_now();

    time_t seconds() const { return seconds_; }
    // "Wed, 25 Nov 2026 21:45:50 GMT" (RFC 9110 IMF-fixdate), for the Date header.
    std::string_view http_date() const { return {http_date_, http_date_len_}; }
    // "25/Nov/2026:21:45:50 +0000" in local time: $time_local.
    std::string_view time_local() const { return {time_local_, time_local_len_}; }
    // "2026-11-25T21:45:50+00:00" in local time: $time_iso8601.
    std::string_view time_iso8601() const { return {iso8601_, iso8601_len_}; }
    // "2026/11/25 21:45:50" in local time: the error log's timestamp.
    std::string_view error_log_time() const { return {error_log_, error_log_len_}; }
    // "1795635950.123": $msec.
    std::string_view msec() const { return {msec_, msec_len_}; }

  private:
    void format_seconds(time_t t);
    void format_msec(time_t t, long ms);

    time_t seconds_ = -1;
    long millis_ = -1;
    char http_date_[32] = {};
    char time_local_[32] = {};
    char iso8601_[32] = {};
    char error_log_[24] = {};
    char msec_[32] = {};
    uint8_t http_date_len_ = 0, time_local_len_ = 0, iso8601_len_ = 0, error_log_len_ = 0,
            msec_len_ = 0;
};

// This thread's cache (initialised with the current time on first use).
TimeCache& thread_time_cache();

// Writes `t` as an IMF-fixdate ("Wed, 25 Nov 2026 21:45:50 GMT", 29 bytes) to `out`,
// which needs http_date_size bytes; returns the number written. For Last-Modified,
// Expires and the like.
constexpr size_t http_date_size = 29;
size_t format_http_date(time_t t, char* out);

}  // namespace ferry::http
