// ssl_* directives for TLS servers (nginx's ngx_http_ssl_module).
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {

bool parse_ssl_protocols(Builder& b, const Directive& d, uint8_t& out) {
    static constexpr std::pair<std::string_view, uint8_t> names[] = {
        {"SSLv2", 0},  // not in OpenSSL 3: accepted and never enabled
        {"SSLv3", ssl_sslv3},
        {"TLSv1", ssl_tlsv1},
        {"TLSv1.1", ssl_tlsv1_1},
        {"TLSv1.2", ssl_tlsv1_2},
        {"TLSv1.3", ssl_tlsv1_3},
    };
    out = 0;
    std::vector<std::string_view> seen;
    for (const Arg& a : d.args) {
        bool found = false;
        for (const auto& [name, bit] : names) {
            if (a.text != name) continue;
            found = true;
            if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
                b.warn(a.loc, fmt::format("duplicate value \"{}\"", name));
            }
            seen.push_back(name);
            out |= bit;
        }
        if (!found) return b.error(a.loc, fmt::format("invalid value \"{}\"", printable(a.text)));
    }
    return true;
}

namespace {

template <Opt<std::vector<Arg>> SrvSettings::*Member>
bool add_certificate_file(Builder& b, const Directive& d) {
    const Arg& a = d.args[0];
    if (a.text.find('$') != std::string::npos) {
        return b.error(a.loc, fmt::format("ferry does not support variables in \"{}\"", d.name),
                       "name the certificate files; SNI picks the server's certificate");
    }
    auto& list = b.srv_settings().*Member;
    if (!list) list.emplace();
    Arg resolved = a;
    if (a.text.rfind("data:", 0) != 0) resolved.text = b.full_path(a.text, true);
    list->push_back(std::move(resolved));
    return true;
}

bool ssl_protocols(Builder& b, const Directive& d) {
    auto& s = b.srv_settings().ssl_protocols;
    if (s) return b.duplicate(d);
    uint8_t mask = 0;
    if (!parse_ssl_protocols(b, d, mask)) return false;
    s = mask;
    return true;
}

bool ssl_session_cache(Builder& b, const Directive& d) {
    auto& s = b.srv_settings().ssl_session_cache;
    if (s) return b.duplicate(d);
    std::pair<SslConf::SessionCache, uint64_t> cache{SslConf::SessionCache::none, 0};
    for (const Arg& a : d.args) {
        const std::string& v = a.text;
        auto invalid = [&] {
            return b.error(a.loc, fmt::format("invalid session cache \"{}\"", printable(v)));
        };
        if (v == "off") {
            cache.first = SslConf::SessionCache::off;
        } else if (v == "none") {
            cache.first = SslConf::SessionCache::none;
        } else if (v == "builtin") {
            cache = {SslConf::SessionCache::builtin, 20480};
        } else if (v.rfind("builtin:", 0) == 0 && v.size() > 8) {
            std::optional<int64_t> n = parse_number(std::string_view(v).substr(8));
            if (!n) return invalid();
            cache = {SslConf::SessionCache::builtin, static_cast<uint64_t>(*n)};
        } else if (v.rfind("shared:", 0) == 0 && v.size() > 7) {
            size_t colon = v.find(':', 7);
            if (colon == std::string::npos || colon == 7) return invalid();
            std::optional<int64_t> size = parse_size(std::string_view(v).substr(colon + 1));
            if (!size) return invalid();
            if (*size < 8 * 4096) {
                return b.error(a.loc, fmt::format("session cache \"{}\" is too small", v));
            }
            cache = {SslConf::SessionCache::shared, static_cast<uint64_t>(*size)};
        } else {
            return invalid();
        }
    }
    s = cache;
    return true;
}

// The `ssl` directive was removed in nginx 1.25.1; old configs still carry `ssl on;`.
// ferry accepts it, as nginx did, by making every listen of the server TLS.
bool ssl_on(Builder& b, const Directive& d) {
    auto& s = b.srv_settings().ssl_on;
    if (s) return b.duplicate(d);
    std::optional<bool> v = parse_flag(d.args[0].text);
    if (!v) return b.invalid_value_in(d, d.args[0], "it must be \"on\" or \"off\"");
    s = *v;
    b.srv_settings().ssl_on_loc = d.loc;
    b.warn(d.loc,
           "the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive instead",
           "nginx 1.25.1 and later reject it; ferry applies it to every listen of the server");
    return true;
}

constexpr DirectiveRow rows[] = {
    {"ssl_certificate", ctx_hs, args_1, add_certificate_file<&SrvSettings::ssl_certificates>,
     Support::yes, "PEM certificate chain (several for RSA and ECDSA)"},
    {"ssl_certificate_key", ctx_hs, args_1,
     add_certificate_file<&SrvSettings::ssl_certificate_keys>, Support::yes,
     "PEM private key, one per certificate"},
    {"ssl_protocols", ctx_hs, args_1more, ssl_protocols, Support::yes,
     "TLS versions (default TLSv1.2 TLSv1.3)"},
    {"ssl_ciphers", ctx_hs, args_1, set_string<&SrvSettings::ssl_ciphers>, Support::yes,
     "OpenSSL cipher list"},
    {"ssl_prefer_server_ciphers", ctx_hs, args_flag,
     set_flag<&SrvSettings::ssl_prefer_server_ciphers>, Support::yes,
     "prefer the server's cipher order"},
    {"ssl_session_cache", ctx_hs, args_12, ssl_session_cache, Support::yes,
     "off, none, builtin[:size], shared:name:size"},
    {"ssl_session_timeout", ctx_hs, args_1, set_sec<&SrvSettings::ssl_session_timeout>,
     Support::yes, "lifetime of cached sessions"},
    {"ssl_session_tickets", ctx_hs, args_flag, set_flag<&SrvSettings::ssl_session_tickets>,
     Support::yes, "TLS session tickets"},
    {"ssl_dhparam", ctx_hs, args_1, set_conf_path<&SrvSettings::ssl_dhparam>, Support::yes,
     "DH parameters for DHE ciphers"},
    {"ssl_ecdh_curve", ctx_hs, args_1, set_string<&SrvSettings::ssl_ecdh_curve>, Support::yes,
     "curves for ECDHE"},
    {"ssl", ctx_hs, args_flag, ssl_on, Support::yes,
     "removed in nginx 1.25.1; accepted with a warning, like `listen ... ssl`"},
};

}  // namespace

std::span<const DirectiveRow> ssl_directives() {
    return rows;
}

}  // namespace ferry::conf
