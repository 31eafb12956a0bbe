// Generic setters, like nginx's ngx_conf_set_*_slot(): one template per value type,
// instantiated with a pointer to the settings member it writes. A repeat is
// "is duplicate"; a bad value is worded as nginx words it.
#pragma once

#include <string_view>

#include "conf/builder.h"
#include "conf/units.h"

namespace ferry::conf {

// The settings object of the current level that owns members of type C.
template <class C>
C& level(Builder& b);
template <>
inline LocSettings& level<LocSettings>(Builder& b) {
    return b.loc_settings();
}
template <>
inline SrvSettings& level<SrvSettings>(Builder& b) {
    return b.srv_settings();
}
template <>
inline MainSettings& level<MainSettings>(Builder& b) {
    return b.main;
}

template <class T>
struct member_of;
template <class C, class M>
struct member_of<M C::*> {
    using owner = C;
};

template <auto Member>
auto& slot(Builder& b) {
    using Owner = typename member_of<decltype(Member)>::owner;
    return level<Owner>(b).*Member;
}

// "on" | "off" (any case, as nginx).
std::optional<bool> parse_flag(std::string_view text);

template <auto Member>
bool set_flag(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<bool> v = parse_flag(d.args[0].text);
    if (!v) return b.invalid_value_in(d, d.args[0], "it must be \"on\" or \"off\"");
    s = *v;
    return true;
}

// A duration in milliseconds ("500ms", "1h30m", "60").
template <auto Member>
bool set_msec(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_time(d.args[0].text, false);
    if (!v) return b.directive_error(d, "invalid value", &d.args[0].loc);
    s = *v;
    return true;
}

// A duration in seconds, stored as milliseconds (nginx's sec slot: no "ms").
template <auto Member>
bool set_sec(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_time(d.args[0].text, true);
    if (!v || *v > INT64_MAX / 1000) return b.directive_error(d, "invalid value", &d.args[0].loc);
    s = *v * 1000;
    return true;
}

// A size in bytes ("16k", "1m").
template <auto Member>
bool set_size(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_size(d.args[0].text, false);
    if (!v) return b.directive_error(d, "invalid value", &d.args[0].loc);
    s = *v;
    return true;
}

// An offset in bytes, which may also use "g" ("1g").
template <auto Member>
bool set_offset(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_size(d.args[0].text, true);
    if (!v) return b.directive_error(d, "invalid value", &d.args[0].loc);
    s = *v;
    return true;
}

// A non-negative number.
template <auto Member>
bool set_number(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_number(d.args[0].text);
    if (!v) return b.directive_error(d, "invalid number", &d.args[0].loc);
    s = *v;
    return true;
}

// "N size", as proxy_buffers.
template <auto Member>
bool set_bufs(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    std::optional<int64_t> num = parse_number(d.args[0].text);
    if (!num || *num == 0) return b.directive_error(d, "invalid value", &d.args[0].loc);
    std::optional<int64_t> size = parse_size(d.args[1].text, false);
    if (!size || *size == 0) return b.directive_error(d, "invalid value", &d.args[1].loc);
    s = BufsSetting{*num, *size};
    return true;
}

// A string kept as written.
template <auto Member>
bool set_string(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    s = d.args[0].text;
    return true;
}

// A path resolved against the conf prefix (certificates, CA files).
template <auto Member>
bool set_conf_path(Builder& b, const Directive& d) {
    auto& s = slot<Member>(b);
    if (s) return b.duplicate(d);
    s = b.full_path(d.args[0].text, true);
    return true;
}

// "SSLv3 TLSv1.2 ..." into SslProtocol bits.
bool parse_ssl_protocols(Builder& b, const Directive& d, uint8_t& out);

}  // namespace ferry::conf
