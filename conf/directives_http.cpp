// http{}-level structure: server, listen, server_name, location, and the core
// settings of nginx's ngx_http_core_module that ferry implements.
#include <fmt/format.h>
#include <unistd.h>

#include <climits>

#include "conf/address.h"
#include "conf/builder.h"
#include "conf/directive_table.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {

bool location_block(Builder& b, const Directive& d);  // location.cpp

namespace {

// The levels nginx spreads temporary files over are not needed: ferry's temporary
// files have no name (O_TMPFILE).
bool client_body_temp_path(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().client_body_temp_path;
    if (s) return b.duplicate(d);
    for (size_t i = 1; i < d.args.size(); ++i) {
        std::optional<int64_t> level = parse_number(d.args[i].text);
        if (!level || *level < 1 || *level > 2) return b.invalid_parameter(d.args[i]);
    }
    s = b.full_path(d.args[0].text, false);
    return true;
}

bool server_block(Builder& b, const Directive& d) {
    auto sb = std::make_unique<ServerBuild>();
    sb->conf = std::make_unique<ServerConf>();
    sb->conf->loc = d.loc;
    ServerBuild* saved_server = b.server;
    auto* saved_list = b.location_list;
    b.server = sb.get();
    b.location_list = &sb->locations;
    b.http->servers.push_back(std::move(sb));
    bool ok = b.process_block(d.block, ctx_server);
    b.server = saved_server;
    b.location_list = saved_list;
    return ok;
}

bool parse_listen_option(Builder& b, const Arg& a, ListenConf& l, bool& drop) {
    const std::string& v = a.text;
    auto value_after = [&](std::string_view key) { return std::string_view(v).substr(key.size()); };
    auto starts = [&](std::string_view key) { return v.rfind(key, 0) == 0; };
    if (v == "default_server" || v == "default") {
        l.default_server = true;
    } else if (v == "ssl") {
        l.ssl = true;
    } else if (v == "reuseport") {
        l.reuseport = l.has_options = true;
    } else if (starts("backlog=")) {
        std::optional<int64_t> n = parse_number(value_after("backlog="));
        if (!n || *n == 0 || *n > INT_MAX) {
            return b.error(a.loc, fmt::format("invalid backlog \"{}\"", printable(v)));
        }
        l.backlog = static_cast<int>(*n);
        l.has_options = true;
    } else if (starts("rcvbuf=") || starts("sndbuf=")) {
        std::optional<int64_t> n = parse_size(value_after("rcvbuf="), false);
        if (!n || *n > INT_MAX) {
            return b.error(a.loc, fmt::format("invalid {} \"{}\"", v.substr(0, 6), printable(v)));
        }
        (starts("rcvbuf=") ? l.rcvbuf : l.sndbuf) = static_cast<int>(*n);
        l.has_options = true;
    } else if (starts("ipv6only=o")) {
        std::string_view rest = value_after("ipv6only=o");
        if (rest != "n" && rest != "ff") {
            return b.error(a.loc, fmt::format("invalid ipv6only flags \"{}\"",
                                              printable(value_after("ipv6only="))));
        }
        l.ipv6only = rest == "n";
        l.has_options = true;
    } else if (v == "bind" || v == "deferred" || v == "multipath" || starts("fastopen=") ||
               starts("so_keepalive=") || starts("accept_filter=") || starts("setfib=")) {
        l.has_options = true;  // socket tuning ferry leaves to the system
    } else if (v == "http2") {
        b.warn(a.loc, "the \"listen ... http2\" parameter is ignored by ferry",
               "ferry speaks HTTP/1.1; clients fall back to it");
    } else if (v == "quic") {
        b.warn(a.loc, "\"listen ... quic\" is ignored by ferry: this listen is skipped",
               "ferry does not implement HTTP/3; clients fall back to TCP");
        drop = true;
    } else if (v == "proxy_protocol") {
        return b.error(a.loc,
                       "ferry does not implement the \"proxy_protocol\" parameter "
                       "(PROXY protocol headers from a load balancer)");
    } else {
        return b.invalid_parameter(a);
    }
    return true;
}

bool listen(Builder& b, const Directive& d) {
    const Arg& url = d.args[0];
    ParsedAddress addr;
    std::string why;
    if (!parse_address(url.text, true, false, addr, why)) {
        return b.error(url.loc, fmt::format("{} in \"{}\" of the \"listen\" directive", why,
                                            printable(url.text)));
    }
    size_t dash = addr.host.find('-');
    if (!addr.port_written && dash != std::string::npos &&
        parse_number(addr.host.substr(0, dash))) {
        return b.error(url.loc, fmt::format("port ranges are not supported by ferry in \"{}\" of "
                                            "the \"listen\" directive",
                                            printable(url.text)));
    }
    ListenConf l;
    l.loc = d.loc;
    l.host = addr.wildcard && !addr.ipv6 ? "" : addr.host;
    l.port = addr.port_written ? addr.port : 80;
    l.unix_path = addr.unix_path;
    l.addr_text = address_text(addr, 80);
    bool drop = false;
    for (size_t i = 1; i < d.args.size(); ++i) {
        if (!parse_listen_option(b, d.args[i], l, drop)) return false;
    }
    if (!drop) b.server->conf->listens.push_back(std::move(l));
    return true;
}

bool server_name(Builder& b, const Directive& d) {
    for (const Arg& a : d.args) {
        const std::string& v = a.text;
        if ((!v.empty() && v[0] == '*' && (v.size() < 3 || v[1] != '.')) ||
            (!v.empty() && v[0] == '.' && v.size() < 2)) {
            return b.error(a.loc, fmt::format("server name \"{}\" is invalid", printable(v)));
        }
        if (v.find('/') != std::string::npos) {
            b.warn(a.loc, fmt::format("server name \"{}\" has suspicious symbols", printable(v)));
        }
        ServerName sn;
        sn.loc = a.loc;
        if (!v.empty() && v[0] == '~') {
            if (v.size() == 1) {
                return b.error(a.loc, fmt::format("empty regex in server name \"{}\"", v));
            }
            std::string pattern = v.substr(1);
            // nginx compiles a server name regex caseless when it has an uppercase letter.
            bool caseless = std::any_of(pattern.begin(), pattern.end(),
                                        [](char c) { return c >= 'A' && c <= 'Z'; });
            std::string err;
            sn.regex = Regex::compile(pattern, caseless, err);
            if (!sn.regex) return b.error(a.loc, err);
            sn.kind = ServerName::Kind::regex;
            sn.name = pattern;
        } else {
            if (to_lower(v) == "$hostname") {
                char host[256] = {};
                gethostname(host, sizeof host - 1);
                sn.name = to_lower(host);
            } else {
                sn.name = to_lower(v);
            }
            if (sn.name.size() > 2 && sn.name.compare(sn.name.size() - 2, 2, ".*") == 0) {
                sn.kind = ServerName::Kind::wildcard_back;
            } else if (!sn.name.empty() && (sn.name[0] == '*' || sn.name[0] == '.')) {
                sn.kind = ServerName::Kind::wildcard_front;
            }
        }
        b.server->conf->names.push_back(std::move(sn));
    }
    return true;
}

bool keepalive_timeout(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().keepalive_timeout;
    if (s) return b.duplicate(d);
    std::optional<int64_t> v = parse_time(d.args[0].text, false);
    if (!v) return b.directive_error(d, "invalid value", &d.args[0].loc);
    std::optional<int64_t> header = -1;
    if (d.args.size() == 2) {
        header = parse_time(d.args[1].text, true);
        if (!header) return b.directive_error(d, "invalid value", &d.args[1].loc);
    }
    s = *v;
    b.loc_settings().keepalive_header = *header;
    return true;
}

bool internal(Builder& b, const Directive& d) {
    if (b.location->conf->internal) return b.duplicate(d);
    b.location->conf->internal = true;
    return true;
}

constexpr DirectiveRow rows[] = {
    {"server", ctx_http, block | args_0, server_block, Support::yes, "a virtual server"},
    {"listen", ctx_server, args_1more, listen, Support::yes,
     "address[:port], port, [::]:port or unix:path; ssl, default_server, reuseport, backlog=, "
     "rcvbuf=, sndbuf=, ipv6only="},
    {"server_name", ctx_server, args_1more, server_name, Support::yes,
     "exact names, *.wildcards, .wildcards, wildcards.*, ~regex"},
    {"location", ctx_server | ctx_location, block | args_12, location_block, Support::yes,
     "=, ^~, ~, ~*, prefix and @named locations, nested"},
    {"internal", ctx_location, args_0, internal, Support::yes,
     "the location answers 404 to client requests"},
    {"client_body_buffer_size", ctx_hsl, args_1, set_size<&LocSettings::client_body_buffer_size>,
     Support::yes, "request body kept in memory (and in $request_body) up to this size"},
    {"client_body_temp_path", ctx_hsl, args_1234, client_body_temp_path, Support::yes,
     "directory for request bodies larger than client_body_buffer_size (levels are not used)"},
    {"client_max_body_size", ctx_hsl, args_1, set_offset<&LocSettings::client_max_body_size>,
     Support::yes, "largest request body (0: no limit)"},
    {"client_body_timeout", ctx_hsl, args_1, set_msec<&LocSettings::client_body_timeout>,
     Support::yes, "timeout between two reads of the request body"},
    {"send_timeout", ctx_hsl, args_1, set_msec<&LocSettings::send_timeout>, Support::yes,
     "timeout between two writes to the client"},
    {"lingering_time", ctx_hsl, args_1, set_msec<&LocSettings::lingering_time>, Support::yes,
     "how long an unwanted request body is read and dropped, in all"},
    {"lingering_timeout", ctx_hsl, args_1, set_msec<&LocSettings::lingering_timeout>, Support::yes,
     "how long to wait for more of an unwanted request body"},
    {"keepalive_timeout", ctx_hsl, args_12, keepalive_timeout, Support::yes,
     "how long an idle client connection stays open"},
    {"keepalive_requests", ctx_hsl, args_1, set_number<&LocSettings::keepalive_requests>,
     Support::yes, "requests per client connection"},
    {"client_header_timeout", ctx_hs, args_1, set_msec<&SrvSettings::client_header_timeout>,
     Support::yes, "timeout for reading the request head"},
    {"client_header_buffer_size", ctx_hs, args_1, set_size<&SrvSettings::client_header_buffer_size>,
     Support::yes, "buffer for the request head"},
    {"large_client_header_buffers", ctx_hs, args_2,
     set_bufs<&SrvSettings::large_client_header_buffers>, Support::yes,
     "number and size of buffers for long request lines and headers"},
    {"underscores_in_headers", ctx_hs, args_flag, set_flag<&SrvSettings::underscores_in_headers>,
     Support::yes, "accept header names with underscores"},
    {"ignore_invalid_headers", ctx_hs, args_flag, set_flag<&SrvSettings::ignore_invalid_headers>,
     Support::yes, "drop header lines with invalid names"},
};

}  // namespace

std::span<const DirectiveRow> http_directives() {
    return rows;
}

}  // namespace ferry::conf
