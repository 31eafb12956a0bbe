#include "conf/units.h"

#include <limits>

namespace ferry::conf {
namespace {

constexpr int64_t max_value = std::numeric_limits<int64_t>::max();

}  // namespace

std::optional<int64_t> parse_number(std::string_view text) {
    if (text.empty()) return std::nullopt;
    int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        int digit = c - '0';
        if (value > (max_value - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

std::optional<int64_t> parse_size(std::string_view text, bool allow_giga) {
    if (text.empty()) return std::nullopt;
    int64_t scale = 1;
    switch (text.back()) {
        case 'k':
        case 'K':
            scale = 1024;
            break;
        case 'm':
        case 'M':
            scale = 1024 * 1024;
            break;
        case 'g':
        case 'G':
            if (!allow_giga) return std::nullopt;
            scale = 1024 * 1024 * 1024;
            break;
        default:
            break;
    }
    if (scale != 1) text.remove_suffix(1);
    std::optional<int64_t> n = parse_number(text);
    if (!n || *n > max_value / scale) return std::nullopt;
    return *n * scale;
}

// Mirrors the order rule of nginx's ngx_parse_time(): each unit must be smaller than
// the one before it, so "1h30m" is valid and "30m1h" is not.
std::optional<int64_t> parse_time(std::string_view text, bool is_sec) {
    enum Step { start, year, month, week, day, hour, min, sec, msec, last };
    Step step = is_sec ? start : month;
    int64_t value = 0, total = 0;
    bool valid = false;
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            if (value > (max_value - (c - '0')) / 10) return std::nullopt;
            value = value * 10 + (c - '0');
            valid = true;
            ++i;
            continue;
        }
        ++i;
        int64_t scale = 0;
        Step next;
        switch (c) {
            case 'y':
                next = year;
                scale = 60LL * 60 * 24 * 365;
                if (step > start) return std::nullopt;
                break;
            case 'M':
                next = month;
                scale = 60LL * 60 * 24 * 30;
                if (step >= month) return std::nullopt;
                break;
            case 'w':
                next = week;
                scale = 60LL * 60 * 24 * 7;
                if (step >= week) return std::nullopt;
                break;
            case 'd':
                next = day;
                scale = 60LL * 60 * 24;
                if (step >= day) return std::nullopt;
                break;
            case 'h':
                next = hour;
                scale = 60LL * 60;
                if (step >= hour) return std::nullopt;
                break;
            case 'm':
                if (i < text.size() && text[i] == 's') {
                    if (is_sec || step >= msec) return std::nullopt;
                    ++i;
                    next = msec;
                    scale = 1;
                    break;
                }
                if (step >= min) return std::nullopt;
                next = min;
                scale = 60;
                break;
            case 's':
                next = sec;
                scale = 1;
                if (step >= sec) return std::nullopt;
                break;
            case ' ':
                next = last;
                scale = 1;
                if (step >= sec) return std::nullopt;
                break;
            default:
                return std::nullopt;
        }
        step = next;
        if (step != msec && !is_sec) scale *= 1000;
        if (value > max_value / scale) return std::nullopt;
        value *= scale;
        if (total > max_value - value) return std::nullopt;
        total += value;
        value = 0;
        while (i < text.size() && text[i] == ' ')
            ++i;
    }
    if (!valid) return std::nullopt;
    if (!is_sec) {
        if (value > max_value / 1000) return std::nullopt;
        value *= 1000;
    }
    if (total > max_value - value) return std::nullopt;
    return total + value;
}

}  // namespace ferry::conf
