#include "conf/variables.h"

#include <fmt/format.h>

#include <array>

#include "conf/lexer.h"
#include "conf/suggest.h"

namespace ferry::conf {
namespace {

// Header-like prefixes and what they become.
struct Prefix {
    std::string_view prefix;
    VarKind kind;
};
constexpr std::array<Prefix, 6> prefixes = {{
    {"http_", VarKind::http_header},
    {"sent_http_", VarKind::sent_http},
    {"upstream_http_", VarKind::upstream_http},
    {"upstream_cookie_", VarKind::upstream_cookie},
    {"cookie_", VarKind::cookie},
    {"arg_", VarKind::arg},
}};

// Variables of nginx (1.31) that ferry does not provide. Referring to one is a warning,
// and the reference evaluates to an empty string.
constexpr std::string_view nginx_only_names[] = {
    "request_body_file",
    "request_completion",
    "pipe",
    "limit_rate",
    "connection_time",
    "tcpinfo_rtt",
    "tcpinfo_rttvar",
    "tcpinfo_snd_cwnd",
    "tcpinfo_rcv_space",
    "proxy_protocol_addr",
    "proxy_protocol_port",
    "proxy_protocol_server_addr",
    "proxy_protocol_server_port",
    "request_port",
    "is_request_port",
    "upstream_cache_status",
    "upstream_response_length",
    "upstream_last_server_name",
    "upstream_queue_time",
    "gzip_ratio",
    "uid_got",
    "uid_set",
    "uid_reset",
    "invalid_referer",
    "secure_link",
    "secure_link_expires",
    "realip_remote_addr",
    "realip_remote_port",
    "fastcgi_script_name",
    "fastcgi_path_info",
    "http2",
    "http3",
    "ssl_alpn_protocol",
    "ssl_ciphers",
    "ssl_client_cert",
    "ssl_client_escaped_cert",
    "ssl_client_fingerprint",
    "ssl_client_i_dn",
    "ssl_client_i_dn_legacy",
    "ssl_client_raw_cert",
    "ssl_client_s_dn",
    "ssl_client_s_dn_legacy",
    "ssl_client_serial",
    "ssl_client_v_end",
    "ssl_client_v_remain",
    "ssl_client_v_start",
    "ssl_client_verify",
    "ssl_curve",
    "ssl_curves",
    "ssl_early_data",
    "ssl_session_id",
    "ssl_sigalg",
    "ssl_sigalgs",
    "ssl_client_sigalg",
    "ssl_ech_status",
    "ssl_ech_outer_server_name",
    "msie",
    "modern_browser",
    "ancient_browser",
    "limit_conn_status",
    "limit_req_status",
    "date_gmt",
    "date_local",
    "connections_active",
    "connections_reading",
    "connections_writing",
};
constexpr std::string_view nginx_only_prefixes[] = {
    "sent_trailer_", "upstream_trailer_", "proxy_protocol_tlv_", "geoip_", "connections_",
};

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool VariableRegistry::add_map(std::string_view name, uint32_t id) {
    auto it = maps_.find(name);
    if (it != maps_.end()) {
        it->second = id;  // as in nginx, the later map replaces the earlier one
        return false;
    }
    maps_.emplace(std::string(name), id);
    return true;
}

uint32_t VariableRegistry::add_set(std::string_view name) {
    auto it = sets_.find(name);
    if (it != sets_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(set_names_.size());
    set_names_.emplace_back(name);
    sets_.emplace(std::string(name), id);
    return id;
}

void VariableRegistry::add_capture_name(std::string_view name) {
    captures_.emplace(std::string(name), true);
}

bool VariableRegistry::is_builtin(std::string_view name) {
    for (size_t i = 0; i < static_cast<size_t>(BuiltinVar::count_); ++i) {
        if (builtin_var_name(static_cast<BuiltinVar>(i)) == name) return true;
    }
    return false;
}

bool VariableRegistry::is_nginx_only(std::string_view name) {
    for (std::string_view n : nginx_only_names) {
        if (n == name) return true;
    }
    for (std::string_view p : nginx_only_prefixes) {
        if (name.size() > p.size() && name.substr(0, p.size()) == p) return true;
    }
    return false;
}

std::optional<VarRef> VariableRegistry::resolve(std::string_view name) const {
    VarRef ref;
    if (auto it = maps_.find(name); it != maps_.end()) {
        ref.kind = VarKind::map;
        ref.id = it->second;
        ref.name = std::string(name);
        return ref;
    }
    if (auto it = sets_.find(name); it != sets_.end()) {
        ref.kind = VarKind::set;
        ref.id = it->second;
        ref.name = std::string(name);
        return ref;
    }
    for (size_t i = 0; i < static_cast<size_t>(BuiltinVar::count_); ++i) {
        if (builtin_var_name(static_cast<BuiltinVar>(i)) == name) {
            ref.kind = VarKind::builtin;
            ref.id = static_cast<uint32_t>(i);
            ref.name = std::string(name);
            return ref;
        }
    }
    if (captures_.count(name)) {
        ref.kind = VarKind::capture;
        ref.name = std::string(name);
        return ref;
    }
    for (const Prefix& p : prefixes) {
        // A bare prefix ($arg_) is accepted as nginx does: an empty name, empty value.
        if (name.size() >= p.prefix.size() && name.substr(0, p.prefix.size()) == p.prefix) {
            ref.kind = p.kind;
            ref.name = to_lower(name.substr(p.prefix.size()));
            return ref;
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> VariableRegistry::all_names() const {
    std::vector<std::string_view> names;
    for (size_t i = 0; i < static_cast<size_t>(BuiltinVar::count_); ++i) {
        names.push_back(builtin_var_name(static_cast<BuiltinVar>(i)));
    }
    for (const auto& [n, id] : maps_)
        names.push_back(n);
    for (const auto& [n, id] : sets_)
        names.push_back(n);
    for (const auto& [n, b] : captures_)
        names.push_back(n);
    // The header variables people mistype most.
    for (std::string_view n : {"http_host", "http_upgrade", "http_connection", "http_user_agent",
                               "http_referer", "http_x_forwarded_for", "http_cookie"}) {
        names.push_back(n);
    }
    return names;
}

namespace {

SourceLoc offset_loc(const SourceLoc& loc, bool quoted, size_t offset) {
    SourceLoc at = loc;
    if (at.line != 0) at.column += static_cast<uint32_t>(offset + (quoted ? 1 : 0));
    return at;
}

}  // namespace

bool TemplateCompiler::compile(std::string_view text, const SourceLoc& loc, bool quoted,
                               const VariableRegistry& vars, Template& out, Diagnostics& diags) {
    out = Template();
    out.raw_ = std::string(text);
    auto add_literal = [&](std::string_view lit) {
        if (lit.empty()) return;
        if (!out.parts_.empty() && !out.parts_.back().is_var) {
            out.parts_.back().literal += lit;
            return;
        }
        Template::Part p;
        p.literal = std::string(lit);
        out.parts_.push_back(std::move(p));
    };
    auto add_var = [&](VarRef ref) {
        Template::Part p;
        p.is_var = true;
        p.var = std::move(ref);
        out.parts_.push_back(std::move(p));
        out.has_vars_ = true;
    };
    auto fail = [&](size_t at, std::string message, std::string hint = {}) {
        diags.push_back(
            Diagnostic{LogLevel::emerg, std::move(message), offset_loc(loc, quoted, at), hint});
        return false;
    };

    size_t i = 0;
    while (i < text.size()) {
        size_t dollar = text.find('$', i);
        if (dollar == std::string_view::npos) {
            add_literal(text.substr(i));
            break;
        }
        add_literal(text.substr(i, dollar - i));
        i = dollar + 1;
        if (i == text.size()) return fail(dollar, "invalid variable name");
        if (text[i] >= '1' && text[i] <= '9') {
            VarRef ref;
            ref.kind = VarKind::capture;
            ref.id = static_cast<uint32_t>(text[i] - '0');
            add_var(std::move(ref));
            ++i;
            continue;
        }
        bool bracket = text[i] == '{';
        if (bracket && ++i == text.size()) return fail(dollar, "invalid variable name");
        size_t start = i;
        while (i < text.size() && is_name_char(text[i]))
            ++i;
        std::string_view name = text.substr(start, i - start);
        if (bracket) {
            if (i == text.size() || text[i] != '}') {
                return fail(dollar, fmt::format("the closing bracket in \"{}\" variable is missing",
                                                printable(name)));
            }
            ++i;
        }
        if (name.empty()) return fail(dollar, "invalid variable name");
        std::optional<VarRef> ref = vars.resolve(name);
        if (ref) {
            add_var(std::move(*ref));
            continue;
        }
        if (VariableRegistry::is_nginx_only(name)) {
            diags.push_back(Diagnostic{
                LogLevel::warn,
                fmt::format("variable \"${}\" is not supported by ferry and is always empty", name),
                offset_loc(loc, quoted, dollar), ""});
            continue;
        }
        std::string near = closest_name(name, vars.all_names());
        return fail(dollar, fmt::format("unknown \"{}\" variable", printable(name)),
                    near.empty() ? "" : fmt::format("did you mean \"${}\"?", near));
    }
    return true;
}

std::vector<std::string> regex_group_names(std::string_view pattern) {
    std::vector<std::string> names;
    for (size_t i = 0; i + 3 < pattern.size(); ++i) {
        if (pattern[i] == '\\') {
            ++i;
            continue;
        }
        if (pattern[i] != '(' || pattern[i + 1] != '?') continue;
        size_t j = i + 2;
        char close;
        if (pattern[j] == '<' && j + 1 < pattern.size() && pattern[j + 1] != '=' &&
            pattern[j + 1] != '!') {
            close = '>';
            ++j;
        } else if (pattern[j] == 'P' && j + 1 < pattern.size() && pattern[j + 1] == '<') {
            close = '>';
            j += 2;
        } else if (pattern[j] == '\'') {
            close = '\'';
            ++j;
        } else {
            continue;
        }
        size_t start = j;
        while (j < pattern.size() && is_name_char(pattern[j]))
            ++j;
        if (j < pattern.size() && pattern[j] == close && j > start) {
            names.emplace_back(pattern.substr(start, j - start));
        }
    }
    return names;
}

}  // namespace ferry::conf
