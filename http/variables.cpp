#include "http/variables.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <random>

#include "http/basic_credentials.h"
#include "http/connection.h"
#include "http/content_static.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/runtime.h"

namespace ferry::http {

namespace {

using conf::BuiltinVar;

void append_u64(std::string& out, uint64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}

// Header names match variable names case-insensitively, with '-' read as '_'.
bool header_name_matches(std::string_view header, std::string_view var) {
    if (header.size() != var.size()) return false;
    for (size_t i = 0; i < header.size(); ++i) {
        char h = header[i];
        char v = var[i];
        if (h >= 'A' && h <= 'Z') h = static_cast<char>(h - 'A' + 'a');
        if (v >= 'A' && v <= 'Z') v = static_cast<char>(v - 'A' + 'a');
        if (h == '-') h = '_';
        if (v == '-') v = '_';
        if (h != v) return false;
    }
    return true;
}

const std::string& host_name() {
    static const std::string name = [] {
        char buf[256] = {};
        gethostname(buf, sizeof buf - 1);
        return std::string(buf);
    }();
    return name;
}

}  // namespace

void append_seconds(std::string& out, int64_t ms) {
    if (ms < 0) ms = 0;
    append_u64(out, static_cast<uint64_t>(ms / 1000));
    char frac[4] = {'.', static_cast<char>('0' + (ms % 1000) / 100),
                    static_cast<char>('0' + (ms % 100) / 10), static_cast<char>('0' + ms % 10)};
    out.append(frac, 4);
}

RequestVars::RequestVars(ClientConnection& c) : c_(c), r_(c.request()) {}

void RequestVars::append_header(const Request& r, std::string_view name, std::string& out) {
    append_joined(r.headers, name, out);
}

// Several lines of one name are joined as nginx joins them: "; " for Cookie, ", " else.
void RequestVars::append_joined(const std::vector<HeaderField>& headers, std::string_view name,
                                std::string& out) {
    if (name.empty()) return;
    bool cookie = header_name_matches("cookie", name);
    bool first = true;
    for (const HeaderField& h : headers) {
        if (!header_name_matches(h.name, name)) continue;
        if (!first) out += cookie ? "; " : ", ";
        out += h.value;
        first = false;
    }
}

// $upstream_cookie_NAME: the value of the first Set-Cookie line that sets NAME.
void RequestVars::append_upstream_cookie(std::string_view name, std::string& out) {
    const std::vector<HeaderField>* headers = c_.upstream_headers();
    if (!headers || name.empty()) return;
    for (const HeaderField& h : *headers) {
        if (!equals_ignore_case(h.name, "set-cookie")) continue;
        std::string_view v = h.value;
        size_t eq = v.find('=');
        if (eq == std::string_view::npos || !equals_ignore_case(v.substr(0, eq), name)) continue;
        v.remove_prefix(eq + 1);
        out += v.substr(0, v.find(';'));
        return;
    }
}

bool RequestVars::find_cookie(const Request& r, std::string_view name, std::string_view& value) {
    for (const HeaderField& h : r.headers) {
        if (!equals_ignore_case(h.name, "cookie")) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            size_t semi = rest.find(';');
            std::string_view pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) {
                pair.remove_prefix(1);
            }
            size_t eq = pair.find('=');
            if (eq == std::string_view::npos) continue;
            if (equals_ignore_case(pair.substr(0, eq), name)) {
                value = pair.substr(eq + 1);
                return true;
            }
        }
    }
    return false;
}

bool RequestVars::find_arg(std::string_view args, std::string_view name, std::string_view& value) {
    while (!args.empty()) {
        size_t amp = args.find('&');
        std::string_view pair = args.substr(0, amp);
        args = amp == std::string_view::npos ? std::string_view() : args.substr(amp + 1);
        size_t eq = pair.find('=');
        std::string_view key = pair.substr(0, eq);
        if (equals_ignore_case(key, name)) {
            value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
            return true;
        }
    }
    return false;
}

void RequestVars::append(const conf::VarRef& var, std::string& out) {
    switch (var.kind) {
        case conf::VarKind::builtin:
            append_builtin(static_cast<BuiltinVar>(var.id), out);
            return;
        case conf::VarKind::http_header:
            append_header(r_, var.name, out);
            return;
        case conf::VarKind::cookie: {
            std::string_view v;
            if (find_cookie(r_, var.name, v)) out += v;
            return;
        }
        case conf::VarKind::arg: {
            std::string_view v;
            if (find_arg(r_.args, var.name, v)) out += v;
            return;
        }
        case conf::VarKind::map:
            append_map(var.id, out);
            return;
        case conf::VarKind::set:
            if (var.id < r_.set_values.size()) out += r_.set_values[var.id];
            return;
        case conf::VarKind::capture:
            append_capture(var, out);
            return;
        case conf::VarKind::sent_http:
            c_.append_sent_header(var.name, out);
            return;
        case conf::VarKind::upstream_http:
            if (const std::vector<HeaderField>* h = c_.upstream_headers()) {
                append_joined(*h, var.name, out);
            }
            return;
        case conf::VarKind::upstream_cookie:
            append_upstream_cookie(var.name, out);
            return;
    }
}

void RequestVars::append_map(uint32_t id, std::string& out) {
    const auto& maps = c_.runtime().config().http->maps;
    if (id >= maps.size()) return;
    const conf::MapConf& map = *maps[id];
    if (map.is_volatile) {
        map.evaluate(*this, out);
        return;
    }
    if (r_.map_done.size() < maps.size()) {
        r_.map_done.resize(maps.size(), 0);
        r_.map_values.resize(maps.size());
    }
    if (!r_.map_done[id]) {
        r_.map_values[id].clear();
        map.evaluate(*this, r_.map_values[id]);
        r_.map_done[id] = 1;
    }
    out += r_.map_values[id];
}

namespace {
// The group of `regex` named `name`, or -1.
int named_group(const conf::Regex* regex, std::string_view name) {
    if (!regex) return -1;
    for (const auto& [n, number] : regex->names()) {
        if (n == name) return number;
    }
    return -1;
}

void append_group(const conf::Captures& caps, std::string_view subject, int group,
                  std::string& out) {
    if (group < 0 || group >= caps.count()) return;
    int start = caps.offsets[2 * group];
    int end = caps.offsets[2 * group + 1];
    if (start < 0 || end < start || static_cast<size_t>(end) > subject.size()) return;
    out.append(subject.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
}
}  // namespace

// $1..$9 are the last regex match's; a named capture is the location regex's if it
// has that name, else the server_name regex's (set when the server was chosen).
void RequestVars::append_capture(const conf::VarRef& var, std::string& out) {
    if (var.name.empty()) {
        append_group(r_.captures, r_.captures_subject, static_cast<int>(var.id), out);
        return;
    }
    int group = named_group(r_.captures_regex, var.name);
    if (group >= 0) {
        append_group(r_.captures, r_.captures_subject, group, out);
        return;
    }
    append_group(r_.server_captures, r_.host, named_group(r_.server_regex, var.name), out);
}

void RequestVars::append_request_time(std::string& out) {
    append_seconds(out, c_.worker().loop().now() - r_.start_ms);
}

void RequestVars::append_builtin(BuiltinVar v, std::string& out) {
    switch (v) {
        case BuiltinVar::host:
            if (!r_.host.empty()) {
                out += r_.host;
            } else if (r_.server) {
                out += r_.server->name;
            }
            return;
        case BuiltinVar::args:
        case BuiltinVar::query_string:
            out += r_.args;
            return;
        case BuiltinVar::is_args:
            if (!r_.args.empty()) out += '?';
            return;
        case BuiltinVar::uri:
        case BuiltinVar::document_uri:
            out += r_.uri;
            return;
        case BuiltinVar::request_uri:
            out += r_.target;
            return;
        case BuiltinVar::request_method:
            out += r_.method;
            return;
        case BuiltinVar::request:
            out += r_.request_line;
            return;
        case BuiltinVar::scheme:
            out += c_.address().ssl ? "https" : "http";
            return;
        case BuiltinVar::https:
            if (c_.address().ssl) out += "on";
            return;
        case BuiltinVar::server_name:
            if (r_.server) out += r_.server->name;
            return;
        case BuiltinVar::server_addr: {
            char buf[64];
            out.append(buf, c_.local().ip_to(buf, sizeof buf));
            return;
        }
        case BuiltinVar::server_port:
            append_u64(out, c_.local().port());
            return;
        case BuiltinVar::server_protocol:
            out += r_.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
            return;
        case BuiltinVar::remote_addr: {
            char buf[64];
            out.append(buf, c_.peer().ip_to(buf, sizeof buf));
            return;
        }
        case BuiltinVar::remote_port:
            append_u64(out, c_.peer().port());
            return;
        case BuiltinVar::remote_user: {
            std::string user, password;
            if (parse_basic_credentials(r_.header("authorization"), user, password)) out += user;
            return;
        }
        case BuiltinVar::binary_remote_addr: {
            const core::SockAddr& p = c_.peer();
            if (p.family() == AF_INET) {
                const auto* a = reinterpret_cast<const sockaddr_in*>(&p.storage);
                out.append(reinterpret_cast<const char*>(&a->sin_addr), 4);
            } else if (p.family() == AF_INET6) {
                const auto* a = reinterpret_cast<const sockaddr_in6*>(&p.storage);
                out.append(reinterpret_cast<const char*>(&a->sin6_addr), 16);
            }
            return;
        }
        case BuiltinVar::content_length:
            if (r_.content_length >= 0) append_u64(out, static_cast<uint64_t>(r_.content_length));
            return;
        case BuiltinVar::content_type:
            append_header(r_, "content_type", out);  // several lines joined, as nginx
            return;
        case BuiltinVar::request_body:
            // nginx's: the body when it was read into memory (not in a file).
            if (!r_.body.in_file() && !r_.body_copy_dropped) out += r_.body.memory();
            return;
        case BuiltinVar::request_length:
            append_u64(out, r_.request_length);
            return;
        case BuiltinVar::request_time:
            append_request_time(out);
            return;
        case BuiltinVar::request_id:
            c_.append_request_id(out);
            return;
        case BuiltinVar::status: {
            char buf[8];
            snprintf(buf, sizeof buf, "%03d", r_.status);
            out += buf;
            return;
        }
        case BuiltinVar::body_bytes_sent:
            append_u64(out, r_.body_bytes_sent);
            return;
        case BuiltinVar::bytes_sent:
            append_u64(out, r_.bytes_sent);
            return;
        case BuiltinVar::connection:
            append_u64(out, c_.number());
            return;
        case BuiltinVar::connection_requests:
            append_u64(out, c_.requests());
            return;
        case BuiltinVar::msec:
            out += c_.worker().times().msec();
            return;
        case BuiltinVar::time_local:
            out += c_.worker().times().time_local();
            return;
        case BuiltinVar::time_iso8601:
            out += c_.worker().times().time_iso8601();
            return;
        case BuiltinVar::hostname:
            out += host_name();
            return;
        case BuiltinVar::pid:
            append_u64(out, static_cast<uint64_t>(getpid()));
            return;
        case BuiltinVar::nginx_version:
            out += FERRY_NGINX_COMPAT;
            return;
        case BuiltinVar::proxy_host:
            out += r_.proxy_host;
            return;
        case BuiltinVar::proxy_port:
            out += r_.proxy_port;
            return;
        case BuiltinVar::proxy_add_x_forwarded_for: {
            size_t before = out.size();
            append_header(r_, "x_forwarded_for", out);
            if (out.size() != before) out += ", ";
            char buf[64];
            out.append(buf, c_.peer().ip_to(buf, sizeof buf));
            return;
        }
        case BuiltinVar::upstream_addr:
            out += r_.upstream_addr;
            return;
        case BuiltinVar::upstream_status:
            out += r_.upstream_status;
            return;
        case BuiltinVar::upstream_response_time:
            out += r_.upstream_response_time;
            return;
        case BuiltinVar::upstream_connect_time:
            out += r_.upstream_connect_time;
            return;
        case BuiltinVar::upstream_header_time:
            out += r_.upstream_header_time;
            return;
        case BuiltinVar::upstream_bytes_sent:
            if (!r_.upstream_addr.empty()) append_u64(out, r_.upstream_bytes_sent);
            return;
        case BuiltinVar::upstream_bytes_received:
            if (!r_.upstream_addr.empty()) append_u64(out, r_.upstream_bytes_received);
            return;
        case BuiltinVar::ssl_protocol:
        case BuiltinVar::ssl_cipher:
        case BuiltinVar::ssl_server_name:
        case BuiltinVar::ssl_session_reused:
            c_.append_tls_variable(v, out);
            return;
        case BuiltinVar::document_root:
        case BuiltinVar::realpath_root:
        case BuiltinVar::request_filename:
            append_file_variable(c_, v, out);
            return;
        case BuiltinVar::count_:
            return;
    }
}

}  // namespace ferry::http
