#include "conf/template.h"

#include <array>

namespace ferry::conf {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(BuiltinVar::count_)> builtin_names = {
    "host",
    "args",
    "query_string",
    "is_args",
    "uri",
    "document_uri",
    "request_uri",
    "request_method",
    "request",
    "scheme",
    "https",
    "server_name",
    "server_addr",
    "server_port",
    "server_protocol",
    "remote_addr",
    "remote_port",
    "remote_user",
    "binary_remote_addr",
    "content_length",
    "content_type",
    "request_length",
    "request_body",
    "request_time",
    "request_id",
    "status",
    "body_bytes_sent",
    "bytes_sent",
    "connection",
    "connection_requests",
    "msec",
    "time_local",
    "time_iso8601",
    "hostname",
    "pid",
    "nginx_version",
    "proxy_host",
    "proxy_port",
    "proxy_add_x_forwarded_for",
    "upstream_addr",
    "upstream_status",
    "upstream_response_time",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_bytes_sent",
    "upstream_bytes_received",
    "ssl_protocol",
    "ssl_cipher",
    "ssl_server_name",
    "ssl_session_reused",
    "document_root",
    "realpath_root",
    "request_filename",
};

}  // namespace

std::string_view builtin_var_name(BuiltinVar v) {
    size_t i = static_cast<size_t>(v);
    return i < builtin_names.size() ? builtin_names[i] : std::string_view{};
}

Template Template::literal(std::string text) {
    Template t;
    t.raw_ = text;
    if (!text.empty()) {
        Part p;
        p.literal = std::move(text);
        t.parts_.push_back(std::move(p));
    }
    return t;
}

void Template::evaluate(VariableSource& vars, std::string& out) const {
    for (const Part& p : parts_) {
        if (p.is_var) {
            vars.append(p.var, out);
        } else {
            out += p.literal;
        }
    }
}

bool Template::uses(VarKind kind, std::string_view name) const {
    for (const Part& p : parts_) {
        if (p.is_var && p.var.kind == kind && p.var.name == name) return true;
    }
    return false;
}

bool Template::uses_map(uint32_t id) const {
    for (const Part& p : parts_) {
        if (p.is_var && p.var.kind == VarKind::map && p.var.id == id) return true;
    }
    return false;
}

}  // namespace ferry::conf
