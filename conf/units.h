// nginx's value syntax for numbers, sizes and durations.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::conf {

// A non-negative decimal integer ("0".."9" only), as nginx's ngx_atoi.
std::optional<int64_t> parse_number(std::string_view text);

// A size: a number with an optional k/K or m/M suffix (and g/G when `allow_giga`, as
// nginx allows for offsets such as client_max_body_size). Bytes.
std::optional<int64_t> parse_size(std::string_view text, bool allow_giga = false);

// A duration in nginx's syntax: a sequence of number+unit in decreasing order, e.g.
// "1h30m", "950s", "500ms"; a bare number means seconds. Units: y M w d h m s ms.
// As in nginx, milliseconds values (is_sec = false) may not use y or M, and seconds
// values (is_sec = true) may not use ms. Returns milliseconds or seconds accordingly.
std::optional<int64_t> parse_time(std::string_view text, bool is_sec);

// Convenience: parse_time(text, false), milliseconds.
inline std::optional<int64_t> parse_msec(std::string_view text) {
    return parse_time(text, false);
}

}  // namespace ferry::conf
