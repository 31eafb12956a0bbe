#include "http/response_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace ferry::http {

namespace {

bool digit(char c) {
    return c >= '0' && c <= '9';
}

// A byte that may not be in a header name (nor begin a header line).
bool name_ctl(char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
}

// Reads 1 to 3 digits at line[i] (nginx refuses a fourth); the first may not be 0 when
// `nonzero`. Returns -1 when there is none.
int version_number(std::string_view line, size_t& i, bool nonzero) {
    if (i >= line.size() || !digit(line[i]) || (nonzero && line[i] == '0')) return -1;
    int v = 0;
    for (int n = 0; i < line.size() && digit(line[i]); ++n, ++i) {
        if (n == 3) return -1;
        v = v * 10 + (line[i] - '0');
    }
    return v;
}

}  // namespace

void ResponseReader::begin(size_t offset) {
    start_ = offset;
    line_ = offset;
    head_end_ = 0;
    have_status_ = false;
    status_ = 0;
    http_major_ = http_minor_ = 1;
    reason_off_ = reason_len_ = 0;
    reason_ = {};
    spans_.clear();
    headers_.clear();
    error_.clear();
}

// nginx's text: the line up to the offending byte, then that byte in hex and "...".
// Control bytes before it are escaped as well, so that the log line stays one line.
bool ResponseReader::fail(std::string_view line, size_t bad) {
    error_.clear();
    for (char c : line.substr(0, bad)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            error_ += fmt::format("\\x{:02x}", u);
        } else {
            error_ += c;
        }
    }
    unsigned char at = bad < line.size() ? static_cast<unsigned char>(line[bad]) : '\n';
    error_ += fmt::format("\\x{:02x}...", at);
    return false;
}

// "HTTP/" 1*3DIGIT "." 1*3DIGIT SP *SP 3DIGIT [ (SP / ".") *text ] [CR], as
// ngx_http_parse_status_line: one CR may end the line, a CR anywhere else is an error.
bool ResponseReader::status_line(std::string_view line, size_t off) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) != "HTTP/") {
        size_t i = 0;
        while (i < std::min<size_t>(line.size(), 5) && line[i] == "HTTP/"[i])
            ++i;
        return fail(line, i);
    }
    size_t i = 5;
    int major = version_number(line, i, true);
    if (major < 0 || i >= line.size() || line[i] != '.') return fail(line, i);
    ++i;
    int minor = version_number(line, i, false);
    if (minor < 0 || i >= line.size() || line[i] != ' ') return fail(line, i);
    while (i < line.size() && line[i] == ' ')
        ++i;
    int code = 0;
    for (int n = 0; n < 3; ++n, ++i) {
        if (i >= line.size() || !digit(line[i])) return fail(line, i);
        code = code * 10 + (line[i] - '0');
    }
    if (i < line.size() && line[i] != ' ' && line[i] != '.') return fail(line, i);  // 403.1 (IIS)
    size_t text = std::min(i + 1, line.size());
    if (i < line.size() && line[i] == '.') text = i;  // the reason keeps ".1 ..."
    if (size_t cr = line.find('\r', text); cr != line.npos) return fail(line, cr);
    status_ = code;
    http_major_ = static_cast<uint8_t>(std::min(major, 255));
    http_minor_ = static_cast<uint8_t>(std::min(minor, 255));
    reason_off_ = static_cast<uint32_t>(off + text);
    reason_len_ = static_cast<uint32_t>(line.size() - text);
    return true;
}

// name [":" *SP value *SP] *CR, as ngx_http_parse_header_line for an upstream. `raw` is
// the line without its LF and is not empty.
bool ResponseReader::header_line(std::string_view raw, size_t off) {
    // IIS may send its status line again: nginx skips the line, whatever it holds.
    if (raw.substr(0, 5) == "HTTP/") return true;
    size_t cr = std::min(raw.find('\r'), raw.size());
    std::string_view line = raw.substr(0, cr);
    // A first byte that is a space or a tab is obs-fold; a CR here means "\r\r\n".
    if (line.empty() || name_ctl(line[0]) || line[0] == ':') return fail(raw, 0);
    size_t colon = 1;
    while (colon < line.size() && line[colon] != ':') {
        if (name_ctl(line[colon])) return fail(raw, colon);
        ++colon;
    }
    size_t v = std::min(colon + 1, line.size());
    while (v < line.size() && line[v] == ' ')
        ++v;
    if (size_t nul = line.find('\0', v); nul != line.npos) return fail(raw, nul);
    size_t end = line.size();
    while (end > v && line[end - 1] == ' ')
        --end;
    // More CRs may end the line; anything after a CR is an error, logged at the end of
    // the value (where nginx's header_end is) or at the CR when there is no value.
    if (raw.find_first_not_of('\r', cr) != raw.npos) return fail(raw, end > v ? end : cr);
    HeaderSpan span;
    span.name_off = static_cast<uint32_t>(off);
    span.name_len = static_cast<uint32_t>(std::min(colon, line.size()));
    span.value_off = static_cast<uint32_t>(off + v);
    span.value_len = static_cast<uint32_t>(end - v);
    spans_.push_back(span);
    return true;
}

void ResponseReader::finish(const char* buf, size_t end) {
    head_end_ = end;
    reason_ = std::string_view(buf + reason_off_, reason_len_);
    headers_.clear();
    for (const HeaderSpan& s : spans_) {
        headers_.push_back({std::string_view(buf + s.name_off, s.name_len),
                            std::string_view(buf + s.value_off, s.value_len)});
    }
}

ResponseReader::Event ResponseReader::parse(const char* buf, size_t from, size_t to,
                                            size_t& consumed) {
    consumed = 0;
    // The bytes from line_ to `from` were seen before and hold no LF.
    size_t scan = std::max(from, line_);
    for (;;) {
        const void* found = scan < to ? std::memchr(buf + scan, '\n', to - scan) : nullptr;
        if (!found) {
            consumed = to > from ? to - from : 0;
            return Event::need_more;
        }
        size_t lf = static_cast<size_t>(static_cast<const char*>(found) - buf);
        std::string_view line(buf + line_, lf - line_);
        if (!have_status_) {
            if (!status_line(line, line_)) return Event::error;
            have_status_ = true;
        } else if (line.empty() || line == "\r") {
            consumed = lf + 1 - from;
            finish(buf, lf + 1);
            return Event::head_done;
        } else if (!header_line(line, line_)) {
            return Event::error;
        }
        line_ = scan = lf + 1;
    }
}

void ResponseReader::rebase(const char* from, const char* to) {
    auto move = [&](std::string_view v) {
        if (v.data() == nullptr) return v;
        return std::string_view(to + (v.data() - from), v.size());
    };
    reason_ = move(reason_);
    for (HeaderField& h : headers_) {
        h.name = move(h.name);
        h.value = move(h.value);
    }
}

}  // namespace ferry::http
