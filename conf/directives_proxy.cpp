// proxy_* directives (nginx's ngx_http_proxy_module) that ferry implements.
#include <fmt/format.h>
#include <strings.h>

#include "conf/address.h"
#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {
namespace {

using Match = LocationConf::Match;

bool proxy_pass_literal(Builder& b, const Directive& d, ProxyPass& pass) {
    const Arg& a = d.args[0];
    std::string_view url = a.text;
    size_t skip;
    if (url.size() >= 7 && strncasecmp(url.data(), "http://", 7) == 0) {
        pass.scheme = ProxyPass::Scheme::http;
        skip = 7;
    } else if (url.size() >= 8 && strncasecmp(url.data(), "https://", 8) == 0) {
        pass.scheme = ProxyPass::Scheme::https;
        skip = 8;
    } else {
        bool looks_like_host = url.find("://") == std::string_view::npos;
        return b.error(a.loc, "invalid URL prefix",
                       looks_like_host ? fmt::format("did you mean \"http://{}\"?", printable(url))
                                       : "proxy_pass takes an http:// or https:// URL");
    }
    ParsedAddress addr;
    std::string why;
    std::string_view rest = url.substr(skip);
    if (!parse_address(rest, false, true, addr, why)) {
        return b.error(a.loc, fmt::format("{} in upstream \"{}\"", why, printable(rest)));
    }
    pass.host = addr.unix_path.empty() ? addr.host : "";
    pass.unix_path = addr.unix_path;
    pass.port = addr.port_written ? addr.port : 0;
    if (!addr.uri.empty()) pass.uri = addr.uri;

    const LocationConf& loc = *b.location->conf;
    bool regex = loc.match == Match::regex || loc.match == Match::regex_icase;
    if ((regex || loc.match == Match::named) && pass.uri) {
        return b.error(a.loc,
                       "\"proxy_pass\" cannot have URI part in location given by regular "
                       "expression, or inside named location, or inside \"if\" statement, or "
                       "inside \"limit_except\" block",
                       "remove the URI part, or build the whole URL with variables such as $1");
    }
    return true;
}

bool proxy_pass(Builder& b, const Directive& d) {
    std::optional<ProxyPass>& slot = b.location->conf->proxy_pass;
    if (slot) return b.duplicate(d);
    ProxyPass pass;
    pass.loc = d.loc;
    const Arg& a = d.args[0];
    if (!b.compile(a, pass.url)) return false;
    if (pass.url.has_variables()) {
        pass.has_variables = true;
        if (a.text.rfind("https://", 0) == 0) pass.scheme = ProxyPass::Scheme::https;
        slot = std::move(pass);
        return true;
    }
    if (!proxy_pass_literal(b, d, pass)) return false;
    slot = std::move(pass);
    b.http->proxy_passes.push_back(PendingProxyPass{&*slot, slot->port != 0});
    return true;
}

bool proxy_set_header(Builder& b, const Directive& d) {
    HeaderRule rule;
    rule.name = d.args[0].text;
    rule.loc = d.loc;
    if (!b.compile(d.args[1], rule.value)) return false;
    auto& rules = b.loc_settings().proxy_set_headers;
    if (!rules) rules.emplace();
    rules->push_back(std::move(rule));
    return true;
}

template <auto Member>
bool add_lowercase_name(Builder& b, const Directive& d) {
    auto& list = slot<Member>(b);
    if (!list) list.emplace();
    list->push_back(to_lower(d.args[0].text));
    return true;
}

bool proxy_http_version(Builder& b, const Directive& d) {
    LocSettings& s = b.loc_settings();
    if (s.proxy_http_version) return b.duplicate(d);
    const std::string& v = d.args[0].text;
    if (v == "1.0") {
        s.proxy_http_version = 10;
    } else if (v == "1.1") {
        s.proxy_http_version = 11;
    } else if (v == "2") {
        return b.error(d.args[0].loc,
                       "ferry does not implement HTTP/2 to upstreams (\"proxy_http_version 2\")");
    } else {
        return b.error(d.args[0].loc, fmt::format("invalid value \"{}\"", printable(v)));
    }
    s.proxy_http_version_loc = d.loc;
    return true;
}

bool proxy_read_timeout(Builder& b, const Directive& d) {
    if (!set_msec<&LocSettings::proxy_read_timeout>(b, d)) return false;
    b.loc_settings().proxy_read_timeout_loc = d.loc;
    return true;
}

bool proxy_next_upstream(Builder& b, const Directive& d) {
    static constexpr std::pair<std::string_view, uint16_t> names[] = {
        {"error", nu_error},
        {"timeout", nu_timeout},
        {"invalid_header", nu_invalid_header},
        {"http_500", nu_http_500},
        {"http_502", nu_http_502},
        {"http_503", nu_http_503},
        {"http_504", nu_http_504},
        {"http_403", nu_http_403},
        {"http_404", nu_http_404},
        {"http_429", nu_http_429},
        {"non_idempotent", nu_non_idempotent},
        {"off", nu_off},
        {"updating", 0},  // only meaningful with a cache, which ferry has not
    };
    auto& s = b.loc_settings().proxy_next_upstream;
    if (s) return b.duplicate(d);
    uint16_t mask = 0;
    for (const Arg& a : d.args) {
        bool found = false;
        for (const auto& [name, bit] : names) {
            if (a.text != name) continue;
            found = true;
            if (bit && (mask & bit)) b.warn(a.loc, fmt::format("duplicate value \"{}\"", name));
            mask |= bit;
        }
        if (!found) return b.error(a.loc, fmt::format("invalid value \"{}\"", printable(a.text)));
    }
    if (mask & nu_off) mask = nu_off;
    s = mask;
    return true;
}

bool proxy_ssl_name(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().proxy_ssl_name;
    if (s) return b.duplicate(d);
    Template t;
    if (!b.compile(d.args[0], t)) return false;
    s = std::move(t);
    return true;
}

bool proxy_ssl_protocols(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().proxy_ssl_protocols;
    if (s) return b.duplicate(d);
    uint8_t mask = 0;
    if (!parse_ssl_protocols(b, d, mask)) return false;
    s = mask;
    return true;
}

// The `proxy_redirect default` rule: the proxy_pass URL back to the location.
bool default_redirect(Builder& b, const Directive& d, ProxyRedirect& rule) {
    const LocationConf* loc = b.location ? b.location->conf.get() : nullptr;
    if (loc && loc->proxy_pass && loc->proxy_pass->has_variables) {
        return b.error(d.loc,
                       "\"proxy_redirect default\" cannot be used with \"proxy_pass\" "
                       "directive with variables");
    }
    if (!loc || !loc->proxy_pass) {
        return b.error(d.loc,
                       "\"proxy_redirect default\" should be placed after the "
                       "\"proxy_pass\" directive");
    }
    const ProxyPass& pass = *loc->proxy_pass;
    bool has_uri = pass.uri.has_value();
    bool regex = loc->match == Match::regex || loc->match == Match::regex_icase;
    rule.from = Template::literal(has_uri ? pass.url.raw() : pass.url.raw() + "/");
    rule.to = Template::literal(has_uri && !regex ? loc->pattern : "/");
    return true;
}

bool proxy_redirect(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().proxy_redirect;
    if (s && s->mode == ProxyConf::RedirectMode::off) return b.duplicate(d);
    if (d.args.size() == 1 && d.args[0].text == "off") {
        if (s) return b.duplicate(d);
        s.emplace().mode = ProxyConf::RedirectMode::off;
        return true;
    }
    if (d.args.size() == 1 && d.args[0].text != "default") return b.invalid_parameter(d.args[0]);
    if (!s) s.emplace();
    s->mode = ProxyConf::RedirectMode::custom;
    ProxyRedirect rule;
    rule.loc = d.loc;
    if (d.args.size() == 1) {
        if (!default_redirect(b, d, rule)) return false;
        s->has_default_rule = true;
        s->rules.push_back(std::move(rule));
        return true;
    }
    const std::string& from = d.args[0].text;
    if (!from.empty() && from[0] == '~') {
        bool icase = from.size() > 1 && from[1] == '*';
        std::string err;
        rule.regex = Regex::compile(from.substr(icase ? 2 : 1), icase, err);
        if (!rule.regex) return b.error(d.args[0].loc, err);
        rule.from = Template::literal(from);
    } else if (!b.compile(d.args[0], rule.from)) {
        return false;
    }
    if (!b.compile(d.args[1], rule.to)) return false;
    s->rules.push_back(std::move(rule));
    return true;
}

constexpr DirectiveRow rows[] = {
    {"proxy_pass", ctx_location | ctx_location_if | ctx_limit_except, args_1, proxy_pass,
     Support::yes,
     "http:// or https:// URL: host[:port], unix:/path:, upstream name, URI part, "
     "variables"},
    {"proxy_http_version", ctx_hsl, args_1, proxy_http_version, Support::yes,
     "1.0 or 1.1 (default 1.1)"},
    {"proxy_set_header", ctx_hsl, args_2, proxy_set_header, Support::yes,
     "header sent upstream; inherited only by levels that set none"},
    {"proxy_hide_header", ctx_hsl, args_1, add_lowercase_name<&LocSettings::proxy_hide_headers>,
     Support::yes, "response header not passed to the client"},
    {"proxy_pass_header", ctx_hsl, args_1, add_lowercase_name<&LocSettings::proxy_pass_headers>,
     Support::yes, "response header passed although hidden by default"},
    {"proxy_connect_timeout", ctx_hsl, args_1, set_msec<&LocSettings::proxy_connect_timeout>,
     Support::yes, "timeout for connecting to the upstream"},
    {"proxy_read_timeout", ctx_hsl, args_1, proxy_read_timeout, Support::yes,
     "timeout between two reads from the upstream (also idle WebSocket tunnels)"},
    {"proxy_send_timeout", ctx_hsl, args_1, set_msec<&LocSettings::proxy_send_timeout>,
     Support::yes, "timeout between two writes to the upstream"},
    {"proxy_intercept_errors", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_intercept_errors>,
     Support::yes, "upstream responses with status >= 300 are answered by error_page"},
    {"proxy_buffering", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_buffering>, Support::yes,
     "buffer upstream responses"},
    {"proxy_request_buffering", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_request_buffering>,
     Support::yes, "read the whole request body before sending it upstream"},
    {"proxy_buffer_size", ctx_hsl, args_1, set_size<&LocSettings::proxy_buffer_size>, Support::yes,
     "buffer for the upstream response head"},
    {"proxy_buffers", ctx_hsl, args_2, set_bufs<&LocSettings::proxy_buffers>, Support::yes,
     "number and size of response buffers"},
    {"proxy_next_upstream", ctx_hsl, args_1more, proxy_next_upstream, Support::yes,
     "when to try the next upstream server"},
    {"proxy_next_upstream_tries", ctx_hsl, args_1,
     set_number<&LocSettings::proxy_next_upstream_tries>, Support::yes, "limit on tries (0: none)"},
    {"proxy_next_upstream_timeout", ctx_hsl, args_1,
     set_msec<&LocSettings::proxy_next_upstream_timeout>, Support::yes,
     "limit on time spent trying (0: none)"},
    {"proxy_redirect", ctx_hsl, args_12, proxy_redirect, Support::yes,
     "rewrite Location and Refresh from the upstream: default, off, or from to"},
    {"proxy_ssl_server_name", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_ssl_server_name>,
     Support::yes, "send SNI to https upstreams"},
    {"proxy_ssl_name", ctx_hsl, args_1, proxy_ssl_name, Support::yes,
     "name for SNI and verification"},
    {"proxy_ssl_verify", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_ssl_verify>, Support::yes,
     "verify the upstream certificate"},
    {"proxy_ssl_trusted_certificate", ctx_hsl, args_1,
     set_conf_path<&LocSettings::proxy_ssl_trusted_certificate>, Support::yes,
     "CA certificates for proxy_ssl_verify"},
    {"proxy_ssl_verify_depth", ctx_hsl, args_1, set_number<&LocSettings::proxy_ssl_verify_depth>,
     Support::yes, "certificate chain depth"},
    {"proxy_ssl_protocols", ctx_hsl, args_1more, proxy_ssl_protocols, Support::yes,
     "TLS versions towards upstreams"},
    {"proxy_ssl_session_reuse", ctx_hsl, args_flag, set_flag<&LocSettings::proxy_ssl_session_reuse>,
     Support::yes, "reuse TLS sessions with upstreams"},
    {"proxy_ssl_ciphers", ctx_hsl, args_1, set_string<&LocSettings::proxy_ssl_ciphers>,
     Support::yes, "OpenSSL cipher list towards upstreams"},
};

}  // namespace

std::span<const DirectiveRow> proxy_directives() {
    return rows;
}

}  // namespace ferry::conf
