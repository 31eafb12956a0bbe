#include "http/header_rules.h"

#include <algorithm>
#include <array>

namespace ferry::http {

namespace {

constexpr uint16_t kHop = hf_hop_by_hop;
constexpr uint16_t kFraming = hf_framing;
constexpr uint16_t kNoUp = hf_not_forwarded_upstream;
constexpr uint16_t kProxySets = hf_set_by_proxy;
constexpr uint16_t kHidden = hf_hidden_from_client;
constexpr uint16_t kNoRelay = hf_not_relayed_to_client;
constexpr uint16_t kUnique = hf_unique_in_request;
constexpr uint16_t kSingle = hf_single_in_response;

using K = KnownHeader;

constexpr std::array kHeaders = {
    HeaderInfo{K::authorization, "Authorization", kUnique},
    HeaderInfo{K::connection, "Connection", kHop | kNoUp | kNoRelay},
    HeaderInfo{K::content_length, "Content-Length", kFraming | kProxySets | kNoRelay | kUnique},
    HeaderInfo{K::content_range, "Content-Range", kUnique},
    HeaderInfo{K::content_type, "Content-Type", kSingle},
    HeaderInfo{K::cookie, "Cookie", 0},
    HeaderInfo{K::date, "Date", kHidden | kSingle},
    HeaderInfo{K::etag, "ETag", kSingle},
    HeaderInfo{K::expect, "Expect", kNoUp | kUnique},
    HeaderInfo{K::expires, "Expires", kSingle},
    HeaderInfo{K::host, "Host", kProxySets | kUnique},
    HeaderInfo{K::if_match, "If-Match", kUnique},
    HeaderInfo{K::if_modified_since, "If-Modified-Since", kUnique},
    HeaderInfo{K::if_none_match, "If-None-Match", kUnique},
    HeaderInfo{K::if_range, "If-Range", kUnique},
    HeaderInfo{K::if_unmodified_since, "If-Unmodified-Since", kUnique},
    HeaderInfo{K::keep_alive, "Keep-Alive", kHop | kNoUp | kNoRelay},
    HeaderInfo{K::last_modified, "Last-Modified", kSingle},
    HeaderInfo{K::location, "Location", kSingle},
    HeaderInfo{K::proxy_authorization, "Proxy-Authorization", kUnique},
    HeaderInfo{K::proxy_connection, "Proxy-Connection", kHop | kNoUp},
    HeaderInfo{K::refresh, "Refresh", kSingle},
    HeaderInfo{K::server, "Server", kHidden | kSingle},
    HeaderInfo{K::te, "TE", kHop | kNoUp},
    HeaderInfo{K::trailer, "Trailer", kHop | kNoUp},
    HeaderInfo{K::transfer_encoding, "Transfer-Encoding",
               kHop | kFraming | kNoUp | kNoRelay | kUnique},
    HeaderInfo{K::upgrade, "Upgrade", kHop | kNoUp | kNoRelay},
    HeaderInfo{K::x_accel_buffering, "X-Accel-Buffering", kHidden},
    HeaderInfo{K::x_accel_charset, "X-Accel-Charset", kHidden},
    HeaderInfo{K::x_accel_expires, "X-Accel-Expires", kHidden},
    HeaderInfo{K::x_accel_limit_rate, "X-Accel-Limit-Rate", kHidden},
    HeaderInfo{K::x_accel_redirect, "X-Accel-Redirect", kHidden},
    HeaderInfo{K::x_forwarded_for, "X-Forwarded-For", 0},
    HeaderInfo{K::x_pad, "X-Pad", kHidden},
    HeaderInfo{K::x_real_ip, "X-Real-IP", 0},
};

// The table ordered by name length, so a lookup compares only names of the right size.
constexpr auto kByLength = [] {
    auto t = kHeaders;
    std::sort(t.begin(), t.end(), [](const HeaderInfo& a, const HeaderInfo& b) {
        return a.name.size() < b.name.size();
    });
    return t;
}();

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
}

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

bool is_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

const HeaderInfo* lookup_header(std::string_view name) {
    auto it =
        std::lower_bound(kByLength.begin(), kByLength.end(), name.size(),
                         [](const HeaderInfo& h, size_t size) { return h.name.size() < size; });
    for (; it != kByLength.end() && it->name.size() == name.size(); ++it)
        if (equals_ignore_case(it->name, name)) return &*it;
    return nullptr;
}

// --- tokens ---

void TokenList::Iterator::advance() {
    while (!rest_.empty()) {
        size_t comma = rest_.find(',');
        std::string_view element = trim_ows(rest_.substr(0, comma));
        rest_ = comma == std::string_view::npos ? std::string_view{} : rest_.substr(comma + 1);
        if (!element.empty()) {
            token_ = element;
            return;
        }
    }
    token_ = {};
    done_ = true;
}

bool has_token(std::string_view value, std::string_view token) {
    for (std::string_view t : TokenList(value))
        if (equals_ignore_case(t, token)) return true;
    return false;
}

uint8_t parse_connection(std::string_view value) {
    uint8_t options = 0;
    for (std::string_view t : TokenList(value)) {
        if (equals_ignore_case(t, "close"))
            options |= co_close;
        else if (equals_ignore_case(t, "keep-alive"))
            options |= co_keep_alive;
        else if (equals_ignore_case(t, "upgrade"))
            options |= co_upgrade;
    }
    return options;
}

// --- framing ---

std::optional<int64_t> parse_content_length(std::string_view value) {
    value = trim_ows(value);
    if (value.empty()) return std::nullopt;
    constexpr int64_t max = INT64_MAX;
    int64_t n = 0;
    for (char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        int digit = c - '0';
        if (n > (max - digit) / 10) return std::nullopt;
        n = n * 10 + digit;
    }
    return n;
}

// nginx compares the value (spaces around it already skipped) with "chunked": a tab
// is part of the value and makes it unknown.
TransferCoding parse_transfer_encoding(std::string_view value) {
    while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ')
        value.remove_suffix(1);
    return equals_ignore_case(value, "chunked") ? TransferCoding::chunked
                                                : TransferCoding::unsupported;
}

// --- validity ---

HeaderNameCheck check_header_name(std::string_view name, bool underscores_in_headers) {
    if (name.empty()) return HeaderNameCheck::bad_request;
    HeaderNameCheck result = HeaderNameCheck::valid;
    for (unsigned char c : name) {
        if (is_name_char(c)) continue;
        if (c <= 0x20 || c == 0x7f || c == ':') return HeaderNameCheck::bad_request;
        if (c == '_' && underscores_in_headers) continue;
        result = HeaderNameCheck::invalid;
    }
    return result;
}

bool is_valid_header_value(std::string_view value) {
    // nginx refuses NUL; a CR or LF inside a value is a bare CR or an obs-fold.
    for (unsigned char c : value)
        if (c == '\0' || c == '\r' || c == '\n') return false;
    return true;
}

}  // namespace ferry::http
