#include "http/file_conditions.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::http {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// nginx's ngx_http_test_if_match: whether `header` (a list of entity tags or "*")
// names the file's tag; `weak` compares without the W/ prefix (If-None-Match).
bool etag_matches(std::string_view header, std::string_view etag, bool weak) {
    if (trim(header) == "*") return true;
    if (etag.empty()) return false;
    if (weak && etag.substr(0, 2) == "W/") etag.remove_prefix(2);
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim(header.substr(0, comma));
        if (weak && item.substr(0, 2) == "W/") item.remove_prefix(2);
        if (item == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

// Whether the file counts as modified since the If-Modified-Since date.
bool modified_since(std::string_view header, const conf::StaticConf& f, time_t mtime) {
    using Ims = conf::StaticConf::IfModifiedSince;
    if (f.if_modified_since == Ims::off) return true;
    std::optional<time_t> t = parse_http_date(header);
    if (!t) return true;
    if (f.if_modified_since == Ims::exact) return *t != mtime;
    return *t < mtime;
}

bool parse_decimal(std::string_view& s, uint64_t& out) {
    if (s.empty() || s[0] < '0' || s[0] > '9') return false;
    out = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        if (out > (UINT64_MAX - 9) / 10) return false;
        out = out * 10 + static_cast<uint64_t>(s[0] - '0');
        s.remove_prefix(1);
    }
    return true;
}

void skip_spaces(std::string_view& s) {
    while (!s.empty() && s[0] == ' ')
        s.remove_prefix(1);
}

}  // namespace

FileFacts file_facts(time_t mtime, uint64_t size, bool etag) {
    FileFacts f;
    f.mtime = mtime;
    f.size = size;
    if (etag) f.etag = fmt::format("\"{:x}-{:x}\"", static_cast<uint64_t>(mtime), size);
    return f;
}

int check_conditions(const Request& req, const conf::StaticConf& f, const FileFacts& facts) {
    if (req.has_header("if-unmodified-since")) {
        std::optional<time_t> t = parse_http_date(req.header("if-unmodified-since"));
        if (t && *t < facts.mtime) return 412;
    }
    if (req.has_header("if-match") && !etag_matches(req.header("if-match"), facts.etag, false)) {
        return 412;
    }
    bool ims = req.has_header("if-modified-since");
    bool inm = req.has_header("if-none-match");
    if (!ims && !inm) return 200;
    if (ims && modified_since(req.header("if-modified-since"), f, facts.mtime)) return 200;
    if (inm && !etag_matches(req.header("if-none-match"), facts.etag, true)) return 200;
    return 304;
}

ByteRange parse_range(std::string_view value, uint64_t size) {
    ByteRange whole;
    if (value.size() < 7 || strncasecmp(value.data(), "bytes=", 6) != 0) return whole;
    std::string_view s = value.substr(6);
    ByteRange unsatisfiable{416, 0, 0};
    int found = 0;
    ByteRange one;
    for (;;) {
        uint64_t start = 0;
        uint64_t end = 0;
        bool suffix = false;
        skip_spaces(s);
        if (!s.empty() && s[0] == '-') {
            suffix = true;
            s.remove_prefix(1);
        } else {
            if (!parse_decimal(s, start)) return unsatisfiable;
            skip_spaces(s);
            if (s.empty() || s[0] != '-') return unsatisfiable;
            s.remove_prefix(1);
        }
        skip_spaces(s);
        bool open_end = !suffix && (s.empty() || s[0] == ',');
        if (open_end) {
            end = size;
        } else {
            if (!parse_decimal(s, end)) return unsatisfiable;
            skip_spaces(s);
            if (!s.empty() && s[0] != ',') return unsatisfiable;
            if (suffix) {
                start = end < size ? size - end : 0;
                end = size - 1;
            }
            if (start > end) return unsatisfiable;
            end = end >= size ? size : end + 1;
        }
        if (start < end) {
            ++found;
            one = ByteRange{206, start, end};
        }
        if (s.empty()) break;
        s.remove_prefix(1);  // ','
    }
    if (found == 0) return unsatisfiable;
    if (found > 1) return whole;
    return one;
}

ByteRange choose_range(const Request& req, const FileFacts& facts) {
    if (!req.has_header("range")) return {};
    if (req.has_header("if-range")) {
        std::string_view v = trim(req.header("if-range"));
        if (!v.empty() && v[0] == '"') {
            if (v != facts.etag) return {};
        } else {
            std::optional<time_t> t = parse_http_date(v);
            if (!t || *t != facts.mtime) return {};
        }
    }
    return parse_range(req.header("range"), facts.size);
}

std::optional<time_t> parse_http_date(std::string_view text) {
    std::string s(trim(text));
    struct tm tm {};
    const char* formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y"};
    for (const char* fmt : formats) {
        tm = {};
        const char* end = strptime(s.c_str(), fmt, &tm);
        if (end && *end == '\0') return timegm(&tm);
    }
    return std::nullopt;
}

}  // namespace ferry::http
