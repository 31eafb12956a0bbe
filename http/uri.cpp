#include "http/uri.h"

#include <algorithm>
#include <cstring>

namespace ferry::http {

namespace {

bool is_alpha(unsigned char c) {
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}
bool is_upper(unsigned char c) {
    return c >= 'A' && c <= 'Z';
}
bool is_sub_delim(unsigned char c) {
    return std::strchr("!$&'()*+,;=", c) != nullptr && c;
}
bool is_unreserved_mark(unsigned char c) {
    return c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(unsigned char c) {
    if (is_digit(c)) return c - '0';
    unsigned char l = c | 0x20;
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}

// --- normalisation ---

enum class PathState : uint8_t { usual, slash, dot, dot_dot };

// `out[0, len)` ends with "/..": drops it together with the segment before it. False when
// there is no segment left to drop (the URI would climb above the root).
bool climb_one_segment(const char* out, size_t& len) {
    if (len < 4) return false;
    size_t i = len - 4;  // the last byte of the previous segment
    while (out[i] != '/') {
        if (i == 0) return false;
        --i;
    }
    len = i + 1;
    return true;
}

// Applies what a pending "." or ".." segment means when the path ends (by its end, '?'
// or '#').
bool finish_dot_segment(PathState st, const char* out, size_t& len) {
    if (st == PathState::dot) {
        --len;
        return true;
    }
    if (st == PathState::dot_dot) return climb_one_segment(out, len);
    return true;
}

// Feeds one (decoded) path byte through the dot/slash state machine.
bool feed_path_byte(unsigned char c, bool merge_slashes, PathState& st, char* out, size_t& len) {
    switch (st) {
        case PathState::usual:
            if (c == '/') st = PathState::slash;
            out[len++] = static_cast<char>(c);
            return true;
        case PathState::slash:
            if (c == '/') {
                if (!merge_slashes) out[len++] = '/';
                return true;
            }
            st = c == '.' ? PathState::dot : PathState::usual;
            out[len++] = static_cast<char>(c);
            return true;
        case PathState::dot:
            if (c == '/') {  // "/./" -> "/"
                st = PathState::slash;
                --len;
                return true;
            }
            st = c == '.' ? PathState::dot_dot : PathState::usual;
            out[len++] = static_cast<char>(c);
            return true;
        case PathState::dot_dot:
            if (c == '/') {  // "/seg/../" -> "/"
                st = PathState::slash;
                return climb_one_segment(out, len);
            }
            st = PathState::usual;
            out[len++] = static_cast<char>(c);
            return true;
    }
    return false;
}

// The args after an unescaped '?' at target[start - 1]: up to a '#', if any.
std::string_view args_from(std::string_view target, size_t start) {
    std::string_view args = target.substr(start);
    return args.substr(0, args.find('#'));
}

// True when the path part needs no rewriting: no escapes, no fragment, no "//" or "/.".
bool is_simple_path(std::string_view target, bool& plus) {
    if (target.find('#') != std::string_view::npos) return false;
    for (size_t i = 0; i < target.size() && target[i] != '?'; ++i) {
        char c = target[i];
        if (c == '%') return false;
        if (c == '+') plus = true;
        if (c == '/' && i + 1 < target.size() && (target[i + 1] == '/' || target[i + 1] == '.'))
            return false;
    }
    return true;
}

bool needs_uri_escape(unsigned char c) {
    return c <= 0x20 || c >= 0x7f || std::strchr("\"#%<>?\\^`{|}", c) != nullptr;
}

}  // namespace

// --- absolute form ---

TargetForm classify_target(std::string_view t, AbsoluteTarget* absolute) {
    if (t.empty()) return TargetForm::invalid;
    if (t[0] == '/') return TargetForm::origin;
    if (!is_alpha(t[0])) return TargetForm::invalid;

    size_t i = 1;
    while (i < t.size() &&
           (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))
        ++i;
    if (t.substr(i, 3) != "://") return TargetForm::invalid;
    std::string_view scheme = t.substr(0, i);
    i += 3;

    size_t host_start = i;
    if (i < t.size() && t[i] == '[') {
        for (++i; i < t.size() && t[i] != ']'; ++i) {
            unsigned char c = t[i];
            if (!is_alpha(c) && !is_digit(c) && c != ':' && !is_unreserved_mark(c) &&
                !is_sub_delim(c))
                return TargetForm::invalid;
        }
        if (i == t.size()) return TargetForm::invalid;
        ++i;  // ']'
    } else {
        while (i < t.size() && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '.' || t[i] == '-'))
            ++i;
    }
    if (i < t.size() && t[i] == ':') {
        ++i;
        while (i < t.size() && is_digit(t[i]))
            ++i;
    }
    std::string_view host = t.substr(host_start, i - host_start);
    if (i < t.size() && t[i] != '/' && t[i] != '?') return TargetForm::invalid;

    if (absolute) *absolute = {scheme, host, t.substr(i)};
    return TargetForm::absolute;
}

// --- $uri ---

std::optional<ParsedUri> normalise_uri(std::string_view target, bool merge_slashes, char* out) {
    ParsedUri r;
    if (target.empty() || (target[0] != '/' && target[0] != '?')) return std::nullopt;

    if (target[0] == '/' && is_simple_path(target, r.plus)) {
        size_t q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string_view::npos) r.args = target.substr(q + 1);
        return r;
    }

    size_t len = 0;
    PathState st = PathState::usual;
    if (target[0] == '?') {  // absolute form without a path: "http://host?args"
        out[len++] = '/';
        r.valid_unparsed = false;
    }

    size_t i = 0;
    while (i < target.size()) {
        unsigned char c = target[i];
        if (c == '%') {
            r.quoted = true;
            if (i + 2 >= target.size()) return std::nullopt;
            int hi = hex_value(target[i + 1]);
            int lo = hex_value(target[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            i += 3;
            c = static_cast<unsigned char>(hi * 16 + lo);
            if (c == '\0') return std::nullopt;
            if (c == '%' || c == '#' || c == '?') {  // kept as data, not as syntax
                out[len++] = static_cast<char>(c);
                st = PathState::usual;
                continue;
            }
        } else {
            ++i;
            if (c == '?' || c == '#') {
                if (!finish_dot_segment(st, out, len)) return std::nullopt;
                if (c == '?') r.args = args_from(target, i);
                r.path = {out, len};
                return r;
            }
        }
        if (c == '+') r.plus = true;
        if (!feed_path_byte(c, merge_slashes, st, out, len)) return std::nullopt;
    }
    if (!finish_dot_segment(st, out, len)) return std::nullopt;
    r.path = {out, len};
    return r;
}

// --- Host ---

std::optional<ValidHost> validate_host(std::string_view host, char* out) {
    enum class S : uint8_t { start, name, ip_literal, after_literal, port } st = S::start;
    constexpr size_t none = std::string_view::npos;
    size_t last_dot = none;
    size_t end = host.size();
    uint32_t port = 0;
    bool upper = false;

    for (size_t i = 0; i < host.size(); ++i) {
        unsigned char c = host[i];
        switch (st) {
            case S::start:
                if (c == '[') {
                    st = S::ip_literal;
                    break;
                }
                st = S::name;
                [[fallthrough]];
            case S::name:
            case S::ip_literal:
                if (is_upper(c)) {
                    upper = true;
                } else if (is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '~' ||
                           is_sub_delim(c) || (c == '%' && st == S::name)) {
                    // allowed as is
                } else if (c == '.') {
                    if (last_dot != none && last_dot + 1 == i) return std::nullopt;
                    last_dot = i;
                } else if (c == ':' && st == S::name) {
                    end = i;
                    st = S::port;
                } else if (c == ':') {
                    // part of an IPv6 literal
                } else if (c == ']' && st == S::ip_literal) {
                    end = i + 1;
                    st = S::after_literal;
                } else {
                    return std::nullopt;
                }
                break;
            case S::after_literal:
                if (c != ':') return std::nullopt;
                st = S::port;
                break;
            case S::port:
                if (!is_digit(c)) return std::nullopt;
                port = port * 10 + (c - '0');
                if (port > 65535) return std::nullopt;
                break;
        }
    }
    if (st == S::ip_literal) return std::nullopt;
    if (last_dot != none && last_dot + 1 == end) --end;  // "example.com." -> "example.com"
    if (end == 0) return std::nullopt;

    if (!upper) return ValidHost{host.substr(0, end), port};
    for (size_t i = 0; i < end; ++i)
        out[i] = static_cast<char>(is_upper(host[i]) ? host[i] | 0x20 : host[i]);
    return ValidHost{{out, end}, port};
}

// --- escaping ---

size_t escaped_uri_size(std::string_view s) {
    size_t n = s.size();
    for (unsigned char c : s)
        if (needs_uri_escape(c)) n += 2;
    return n;
}

char* escape_uri(std::string_view s, char* out) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
        if (needs_uri_escape(c)) {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0xf];
        } else {
            *out++ = static_cast<char>(c);
        }
    }
    return out;
}

// --- proxy_pass ---

namespace {

bool sends_request_uri_unchanged(const ProxyUriInput& in) {
    return (!in.uri_part || in.uri_part->empty()) && in.valid_unparsed;
}

// The part of $uri that follows the location's name (all of it without a URI part).
std::string_view uri_after_location(const ProxyUriInput& in) {
    if (!in.uri_part || in.uri_part->empty()) return in.uri;
    return in.uri.substr(std::min(in.location.size(), in.uri.size()));
}

}  // namespace

size_t proxy_uri_size(const ProxyUriInput& in) {
    if (sends_request_uri_unchanged(in)) return in.request_uri.size();
    std::string_view rest = uri_after_location(in);
    size_t n = in.uri_part ? in.uri_part->size() : 0;
    n += in.quoted ? escaped_uri_size(rest) : rest.size();
    if (!in.args.empty()) n += 1 + in.args.size();
    return n;
}

size_t write_proxy_uri(const ProxyUriInput& in, char* out) {
    if (sends_request_uri_unchanged(in)) {
        std::memcpy(out, in.request_uri.data(), in.request_uri.size());
        return in.request_uri.size();
    }
    char* p = out;
    if (in.uri_part) p = std::copy(in.uri_part->begin(), in.uri_part->end(), p);
    std::string_view rest = uri_after_location(in);
    p = in.quoted ? escape_uri(rest, p) : std::copy(rest.begin(), rest.end(), p);
    if (!in.args.empty()) {
        *p++ = '?';
        p = std::copy(in.args.begin(), in.args.end(), p);
    }
    return static_cast<size_t>(p - out);
}

}  // namespace ferry::http
