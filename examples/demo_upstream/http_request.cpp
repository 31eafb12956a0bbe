#include "examples/demo_upstream/http_request.h"

namespace ferry::demo {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 9110 tchar: the characters of a method or a header name.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

// A header value may hold visible characters, spaces, tabs and obs-text, nothing else.
bool is_field_value(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7F) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

ParseResult parse_request_line(std::string_view line, Request& out) {
    size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return ParseResult::bad;
    size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return ParseResult::bad;
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(out.method) || out.target.empty()) return ParseResult::bad;
    for (char c : out.target) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7F) return ParseResult::bad;
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return ParseResult::bad;
    if (version[5] != '1' || version[7] > '1') return ParseResult::bad_version;
    out.minor_version = version[7] - '0';
    return ParseResult::ok;
}

ParseResult parse_header_line(std::string_view line, Request& out) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return ParseResult::bad;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    // A name must be a token: this also rejects whitespace before the colon and
    // obsolete line folding (a line starting with whitespace).
    if (!is_token(name) || !is_field_value(value)) return ParseResult::bad;
    out.headers.push_back({name, value});
    return ParseResult::ok;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

size_t Request::count(std::string_view name) const {
    size_t n = 0;
    for (const auto& h : headers)
        n += iequals(h.name, name) ? 1 : 0;
    return n;
}

std::string_view Request::value(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return h.value;
    return {};
}

bool Request::has_token(std::string_view name, std::string_view token) const {
    for (const auto& h : headers) {
        if (!iequals(h.name, name)) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            size_t comma = rest.find(',');
            if (iequals(trim(rest.substr(0, comma)), token)) return true;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return false;
}

std::string_view Request::path() const {
    return target.substr(0, target.find('?'));
}

ParseResult parse_request_head(std::string_view in, size_t max_head, Request& out) {
    out = Request{};
    bool request_line = true;
    size_t at = 0;
    for (;;) {
        size_t eol = in.find('\n', at);
        if (eol == std::string_view::npos || eol >= max_head)
            return in.size() >= max_head ? ParseResult::too_large : ParseResult::incomplete;
        // RFC 9112 section 2.2: a line ends with CRLF; a bare LF is accepted as well.
        std::string_view line = in.substr(at, eol - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        at = eol + 1;
        if (request_line) {
            if (auto r = parse_request_line(line, out); r != ParseResult::ok) return r;
            request_line = false;
        } else if (line.empty()) {
            out.head_size = at;
            return ParseResult::ok;
        } else if (parse_header_line(line, out) != ParseResult::ok) {
            return ParseResult::bad;
        }
    }
}

}  // namespace ferry::demo
