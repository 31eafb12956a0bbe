// upstream{} blocks: servers with their parameters, and keepalive.
#include <fmt/format.h>

#include "conf/address.h"
#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {
namespace {

bool upstream_block(Builder& b, const Directive& d) {
    HttpConf& http = b.http->conf;
    const std::string& name = d.args[0].text;
    for (const UpstreamConf& u : http.upstreams) {
        if (!u.implicit && to_lower(u.name) == to_lower(name)) {
            return b.error(d.args[0].loc, fmt::format("duplicate upstream \"{}\"", printable(name)),
                           fmt::format("the first one is at {}", u.loc.to_string()));
        }
    }
    http.upstreams.emplace_back();
    size_t index = http.upstreams.size() - 1;
    http.upstreams[index].name = name;
    http.upstreams[index].loc = d.loc;
    b.upstream = &http.upstreams[index];
    b.upstream_seen.clear();
    bool ok = b.process_block(d.block, ctx_upstream);
    b.upstream = nullptr;
    if (!ok) return false;
    if (http.upstreams[index].servers.empty()) {
        return b.error(d.block_end.has_position() ? d.block_end : d.loc,
                       "no servers are inside upstream");
    }
    return true;
}

bool server_parameter(Builder& b, const Arg& a, UpstreamServer& s) {
    const std::string& v = a.text;
    auto starts = [&](std::string_view key) { return v.rfind(key, 0) == 0; };
    auto number_after = [&](size_t skip) { return parse_number(std::string_view(v).substr(skip)); };
    if (starts("weight=")) {
        std::optional<int64_t> n = number_after(7);
        if (!n || *n == 0 || *n > 1000000) return b.invalid_parameter(a);
        s.weight = static_cast<int>(*n);
    } else if (starts("max_conns=")) {
        std::optional<int64_t> n = number_after(10);
        if (!n || *n > 1000000000) return b.invalid_parameter(a);
        s.max_conns = static_cast<int>(*n);
    } else if (starts("max_fails=")) {
        std::optional<int64_t> n = number_after(10);
        if (!n || *n > 1000000000) return b.invalid_parameter(a);
        s.max_fails = static_cast<int>(*n);
    } else if (starts("fail_timeout=")) {
        std::optional<int64_t> t = parse_time(std::string_view(v).substr(13), true);
        if (!t || *t > INT64_MAX / 1000) return b.invalid_parameter(a);
        s.fail_timeout = *t * 1000;
    } else if (v == "backup") {
        s.backup = true;
    } else if (v == "down") {
        s.down = true;
    } else if (v == "resolve") {
        b.warn(a.loc, "the \"resolve\" parameter is ignored by ferry",
               "ferry resolves upstream names when it loads the configuration");
    } else if (starts("service=") || starts("route=") || v == "drain") {
        return b.error(a.loc, fmt::format("ferry does not implement the \"{}\" parameter",
                                          printable(v.substr(0, v.find('=')))));
    } else {
        return b.invalid_parameter(a);
    }
    return true;
}

bool upstream_server(Builder& b, const Directive& d) {
    UpstreamServer s;
    s.loc = d.loc;
    for (size_t i = 1; i < d.args.size(); ++i) {
        if (!server_parameter(b, d.args[i], s)) return false;
    }
    ParsedAddress addr;
    std::string why;
    if (!parse_address(d.args[0].text, false, false, addr, why)) {
        return b.error(d.args[0].loc,
                       fmt::format("{} in upstream \"{}\"", why, printable(d.args[0].text)));
    }
    s.host = addr.host;
    s.port = addr.port_written ? addr.port : 80;
    s.unix_path = addr.unix_path;
    b.upstream->servers.push_back(std::move(s));
    return true;
}

// False (after "is duplicate") when this directive was already seen in the upstream.
bool first_time(Builder& b, const Directive& d) {
    if (b.upstream_seen.insert(d.name).second) return true;
    return b.duplicate(d);
}

bool keepalive(Builder& b, const Directive& d) {
    UpstreamConf& u = *b.upstream;
    if (!first_time(b, d)) return false;
    std::optional<int64_t> n = parse_number(d.args[0].text);
    if (!n || *n > 1000000) return b.invalid_value_in(d, d.args[0]);
    if (d.args.size() == 2) {
        if (d.args[1].text != "local") return b.invalid_parameter(d.args[1]);
        u.keepalive_local = true;
    } else {
        u.keepalive_local = false;
    }
    u.keepalive = static_cast<int>(*n);
    return true;
}

bool keepalive_number(Builder& b, const Directive& d) {
    if (!first_time(b, d)) return false;
    std::optional<int64_t> n = parse_number(d.args[0].text);
    if (!n || *n > INT32_MAX) return b.directive_error(d, "invalid number", &d.args[0].loc);
    b.upstream->keepalive_requests = static_cast<int>(*n);
    return true;
}

template <Msec UpstreamConf::*Member>
bool keepalive_msec(Builder& b, const Directive& d) {
    if (!first_time(b, d)) return false;
    std::optional<int64_t> v = parse_time(d.args[0].text, false);
    if (!v) return b.directive_error(d, "invalid value", &d.args[0].loc);
    b.upstream->*Member = *v;
    return true;
}

bool balance(Builder& b, const Directive& d) {
    UpstreamConf& u = *b.upstream;
    u.balance =
        d.name == "least_conn" ? UpstreamConf::Balance::least_conn : UpstreamConf::Balance::random;
    b.warn(d.loc,
           fmt::format("\"{}\" balancing is not implemented by ferry: it uses weighted "
                       "round robin",
                       d.name),
           "spreading of requests differs; responses do not");
    return true;
}

constexpr DirectiveRow rows[] = {
    {"upstream", ctx_http, block | args_1, upstream_block, Support::yes,
     "a group of servers, balanced by weighted round robin"},
    {"server", ctx_upstream, args_1more, upstream_server, Support::yes,
     "address with weight=, max_fails=, fail_timeout=, max_conns=, backup, down"},
    {"keepalive", ctx_upstream, args_12, keepalive, Support::yes,
     "idle connections kept per worker (default 32)"},
    {"keepalive_requests", ctx_upstream, args_1, keepalive_number, Support::yes,
     "requests per upstream connection"},
    {"keepalive_time", ctx_upstream, args_1, keepalive_msec<&UpstreamConf::keepalive_time>,
     Support::yes, "lifetime of an upstream connection"},
    {"keepalive_timeout", ctx_upstream, args_1, keepalive_msec<&UpstreamConf::keepalive_timeout>,
     Support::yes, "idle timeout of an upstream connection"},
    {"least_conn", ctx_upstream, args_0, balance, Support::yes,
     "accepted; ferry balances by weighted round robin"},
    {"random", ctx_upstream, args_0 | args_12, balance, Support::yes,
     "accepted; ferry balances by weighted round robin"},
};

}  // namespace

std::span<const DirectiveRow> upstream_directives() {
    return rows;
}

}  // namespace ferry::conf
