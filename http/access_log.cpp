#include "http/access_log.h"

#include <unistd.h>

#include <cerrno>

namespace ferry::http {

namespace {
constexpr size_t kFlushAt = 32 * 1024;

void write_all(int fd, const std::string& buf) {
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a full disk or closed pipe loses log lines, not requests
        off += static_cast<size_t>(n);
    }
}
}  // namespace

void AccessLogWriter::write(int fd, std::string_view line) {
    Pending* p = nullptr;
    for (auto& e : pending_) {
        if (e.fd == fd) p = &e;
    }
    if (!p) {
        pending_.push_back({fd, {}});
        p = &pending_.back();
        p->buf.reserve(kFlushAt * 2);
    }
    p->buf.append(line);
    p->buf.push_back('\n');
    if (p->buf.size() >= kFlushAt) {
        write_all(p->fd, p->buf);
        p->buf.clear();
    }
}

void AccessLogWriter::flush() {
    for (auto& e : pending_) {
        if (e.buf.empty()) continue;
        write_all(e.fd, e.buf);
        e.buf.clear();
    }
}

bool is_end_of_tunnel_var(const conf::VarRef& v) {
    if (v.kind != conf::VarKind::builtin) return false;
    switch (static_cast<conf::BuiltinVar>(v.id)) {
        case conf::BuiltinVar::request_time:
        case conf::BuiltinVar::bytes_sent:
        case conf::BuiltinVar::body_bytes_sent:
        case conf::BuiltinVar::request_length:
        case conf::BuiltinVar::upstream_bytes_sent:
        case conf::BuiltinVar::upstream_bytes_received:
        case conf::BuiltinVar::upstream_response_time:
        case conf::BuiltinVar::msec:
        case conf::BuiltinVar::time_local:
        case conf::BuiltinVar::time_iso8601:
            return true;
        default:
            return false;
    }
}

void append_log_escaped(conf::LogFormat::Escape escape, std::string_view value, std::string& out) {
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned char ch : value) {
        if (escape == conf::LogFormat::Escape::none) {
            out.push_back(static_cast<char>(ch));
        } else if (escape == conf::LogFormat::Escape::json) {
            if (ch == '"' || ch == '\\') {
                out.push_back('\\');
                out.push_back(static_cast<char>(ch));
            } else if (ch < 0x20) {
                out += "\\u00";
                out.push_back(hex[ch >> 4]);
                out.push_back(hex[ch & 15]);
            } else {
                out.push_back(static_cast<char>(ch));
            }
        } else if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f) {
            out += "\\x";
            out.push_back(hex[ch >> 4]);
            out.push_back(hex[ch & 15]);
        } else {
            out.push_back(static_cast<char>(ch));
        }
    }
}

namespace {
// nginx logs "-" for a variable that was not found, and the value otherwise, even an
// empty one. ferry's variables append nothing when not found, so an empty value means
// "-" except for the variables nginx defines as found but empty: $https off TLS,
// $is_args without a query.
bool found_when_empty(const conf::VarRef& v) {
    if (v.kind != conf::VarKind::builtin) return false;
    auto id = static_cast<conf::BuiltinVar>(v.id);
    return id == conf::BuiltinVar::https || id == conf::BuiltinVar::is_args;
}
}  // namespace

void format_log_line(const conf::LogFormat& format, conf::VariableSource& vars, std::string& out,
                     std::vector<LogHole>* holes) {
    thread_local std::string value;
    for (const auto& part : format.format.parts()) {
        if (!part.is_var) {
            out += part.literal;
            continue;
        }
        if (holes && is_end_of_tunnel_var(part.var)) {
            holes->push_back({out.size(), static_cast<conf::BuiltinVar>(part.var.id)});
            continue;
        }
        value.clear();
        vars.append(part.var, value);
        if (value.empty() && !found_when_empty(part.var) &&
            format.escape != conf::LogFormat::Escape::json) {
            out.push_back('-');
        } else {
            append_log_escaped(format.escape, value, out);
        }
    }
}

}  // namespace ferry::http
