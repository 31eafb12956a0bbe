#include "http/http_date.h"

#include <charconv>
#include <cstring>

namespace ferry::http {

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char* put_text(char* p, const char* s) {
    size_t n = std::strlen(s);
    std::memcpy(p, s, n);
    return p + n;
}

char* put2(char* p, int v) {
    *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
    return p;
}

// Four digits: the formats have fixed widths, so years past 9999 are clamped.
char* put_year(char* p, const tm& t) {
    int y = t.tm_year + 1900;
    if (y > 9999) y = 9999;
    if (y < 0) y = 0;
    p = put2(p, y / 100);
    return put2(p, y % 100);
}

char* put_clock(char* p, const tm& t) {
    p = put2(p, t.tm_hour);
    *p++ = ':';
    p = put2(p, t.tm_min);
    *p++ = ':';
    return put2(p, t.tm_sec);
}

// "+0100" or, with `colon`, "+01:00".
char* put_utc_offset(char* p, long gmtoff, bool colon) {
    *p++ = gmtoff < 0 ? '-' : '+';
    long minutes = (gmtoff < 0 ? -gmtoff : gmtoff) / 60;
    p = put2(p, static_cast<int>(minutes / 60));
    if (colon) *p++ = ':';
    return put2(p, static_cast<int>(minutes % 60));
}

template <size_t N>
uint8_t length(const char (&buf)[N], const char* end) {
    return static_cast<uint8_t>(end - buf);
}

}  // namespace

size_t format_http_date(time_t t, char* out) {
    tm g{};
    gmtime_r(&t, &g);
    char* p = put_text(out, kDays[g.tm_wday]);
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, g.tm_mday);
    *p++ = ' ';
    p = put_text(p, kMonths[g.tm_mon]);
    *p++ = ' ';
    p = put_year(p, g);
    *p++ = ' ';
    p = put_clock(p, g);
    p = put_text(p, " GMT");
    return static_cast<size_t>(p - out);
}

void TimeCache::format_seconds(time_t t) {
    http_date_len_ = static_cast<uint8_t>(format_http_date(t, http_date_));

    tm l{};
    localtime_r(&t, &l);

    char* p = put2(time_local_, l.tm_mday);  // 25/Nov/2026:21:45:50 +0000
    *p++ = '/';
    p = put_text(p, kMonths[l.tm_mon]);
    *p++ = '/';
    p = put_year(p, l);
    *p++ = ':';
    p = put_clock(p, l);
    *p++ = ' ';
    p = put_utc_offset(p, l.tm_gmtoff, false);
    time_local_len_ = length(time_local_, p);

    p = put_year(iso8601_, l);  // 2026-11-25T21:45:50+00:00
    *p++ = '-';
    p = put2(p, l.tm_mon + 1);
    *p++ = '-';
    p = put2(p, l.tm_mday);
    *p++ = 'T';
    p = put_clock(p, l);
    p = put_utc_offset(p, l.tm_gmtoff, true);
    iso8601_len_ = length(iso8601_, p);

    p = put_year(error_log_, l);  // 2026/11/25 21:45:50
    *p++ = '/';
    p = put2(p, l.tm_mon + 1);
    *p++ = '/';
    p = put2(p, l.tm_mday);
    *p++ = ' ';
    p = put_clock(p, l);
    error_log_len_ = length(error_log_, p);
}

void TimeCache::format_msec(time_t t, long ms) {
    char* p = std::to_chars(msec_, msec_ + 20, static_cast<long long>(t)).ptr;
    *p++ = '.';
    *p++ = static_cast<char>('0' + ms / 100);
    p = put2(p, static_cast<int>(ms % 100));
    msec_len_ = length(msec_, p);
}

void TimeCache::update(const timespec& now) {
    long ms = now.tv_nsec / 1000000;
    if (now.tv_sec != seconds_) format_seconds(now.tv_sec);
    if (now.tv_sec != seconds_ || ms != millis_) format_msec(now.tv_sec, ms);
    seconds_ = now.tv_sec;
    millis_ = ms;
}

void TimeCache::update_now() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    update(now);
}

TimeCache& thread_time_cache() {
    thread_local TimeCache cache = [] {
        TimeCache c;
        c.update_now();
        return c;
    }();
    return cache;
}

}  // namespace ferry::http
