#include "http/runtime.h"

#include <fmt/format.h>
#include <unistd.h>

#include "core/log.h"
#include "http/content.h"
#include "http/tls_contexts.h"
#include "http/uri.h"

namespace ferry::http {

namespace {

conf::Diagnostic error_at(const conf::SourceLoc& loc, std::string message) {
    conf::Diagnostic d;
    d.level = conf::LogLevel::emerg;
    d.message = std::move(message);
    d.loc = loc;
    return d;
}

// The socket address of a `listen`: "*" and "" mean every IPv4 address.
bool listen_addr(const conf::ListenConf& l, core::SockAddr& out, std::string& error) {
    if (!l.unix_path.empty()) {
        out = core::SockAddr::unix_path(l.unix_path);
        return true;
    }
    std::string host = l.host;
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    std::vector<core::SockAddr> addrs = core::resolve(host, l.port, error);
    if (addrs.empty()) {
        error = fmt::format("host not found in \"{}\" of the \"listen\" directive", l.host);
        return false;
    }
    out = addrs.front();
    return true;
}

std::string first_server_name(const conf::ServerConf& s) {
    for (const conf::ServerName& n : s.names) {
        if (n.kind == conf::ServerName::Kind::exact) return n.name;
    }
    return s.names.empty() ? std::string() : s.names.front().name;
}

// Calls f on every location of a server, nested ones included.
template <typename F>
void for_each_location(const conf::ServerConf& server, F&& f) {
    std::vector<const conf::LocationConf*> stack;
    for (const auto& l : server.locations)
        stack.push_back(l.get());
    while (!stack.empty()) {
        const conf::LocationConf* l = stack.back();
        stack.pop_back();
        f(*l);
        for (const auto& child : l->locations)
            stack.push_back(child.get());
    }
}

}  // namespace

std::shared_ptr<const Runtime> Runtime::build(std::shared_ptr<const conf::Config> config,
                                              conf::Diagnostics& diags, bool open_files) {
    std::shared_ptr<Runtime> rt(new Runtime());
    rt->config_ = std::move(config);
    if (!rt->config_->http) return rt;
    bool ok = rt->build_addresses(diags);
    rt->build_locations();
    ok = rt->build_upstreams(diags) && ok;
    ok = ok && rt->build_tls(diags);
    if (open_files) ok = rt->open_logs(diags) && ok;
    if (!ok) return nullptr;
    return rt;
}

bool Runtime::build_addresses(conf::Diagnostics& diags) {
    const conf::HttpConf& http = *config_->http;
    struct Pending {
        AddressRt addr;
        std::vector<const conf::ServerConf*> servers;
        const conf::ServerConf* default_server = nullptr;
    };
    std::vector<Pending> pending;
    bool ok = true;
    for (const auto& s : http.servers) {
        auto rt = std::make_unique<ServerRt>();
        rt->conf = s.get();
        rt->locations = std::make_unique<LocationIndex>(s->locations);
        rt->name = first_server_name(*s);
        by_conf_[s.get()] = rt.get();
        servers_.push_back(std::move(rt));

        std::vector<conf::ListenConf> listens = s->listens;
        if (listens.empty()) {
            conf::ListenConf l;
            l.port = geteuid() == 0 ? 80 : 8000;  // nginx's default
            l.loc = s->loc;
            listens.push_back(l);
        }
        for (const conf::ListenConf& l : listens) {
            core::SockAddr addr;
            std::string error;
            if (!listen_addr(l, addr, error)) {
                diags.push_back(error_at(l.loc, error));
                ok = false;
                continue;
            }
            Pending* p = nullptr;
            for (auto& candidate : pending) {
                if (candidate.addr.addr == addr) p = &candidate;
            }
            if (!p) {
                pending.emplace_back();
                p = &pending.back();
                p->addr.addr = addr;
            }
            if (l.ssl) p->addr.ssl = true;
            if (l.has_options || l.backlog != 511) p->addr.backlog = l.backlog;
            if (l.ipv6only) p->addr.ipv6only = *l.ipv6only ? 1 : 0;
            bool listed = false;
            for (const auto* srv : p->servers)
                listed = listed || srv == s.get();
            if (!listed) p->servers.push_back(s.get());
            if (l.default_server) p->default_server = s.get();
        }
    }
    for (auto& p : pending) {
        p.addr.index = std::make_unique<ServerIndex>(
            std::span<const conf::ServerConf* const>(p.servers.data(), p.servers.size()),
            p.default_server);
        p.addr.default_server = by_conf_.at(p.addr.index->default_server());
        addresses_.push_back(std::move(p.addr));
    }
    return ok;
}

bool Runtime::build_upstreams(conf::Diagnostics& diags) {
    const conf::HttpConf& http = *config_->http;
    bool ok = true;
    for (const conf::UpstreamConf& uc : http.upstreams) {
        UpstreamGroup g;
        g.conf = &uc;
        for (const conf::UpstreamServer& us : uc.servers) {
            std::vector<core::SockAddr> addrs;
            if (!us.unix_path.empty()) {
                addrs.push_back(core::SockAddr::unix_path(us.unix_path));
            } else {
                std::string error;
                addrs = core::resolve(us.host, us.port, error);
                if (addrs.empty()) {
                    diags.push_back(error_at(
                        us.loc, fmt::format("host not found in upstream \"{}\"", us.host)));
                    ok = false;
                    continue;
                }
            }
            for (const core::SockAddr& a : addrs) {
                Peer p;
                p.addr = a;
                p.name = a.to_string();
                p.weight = us.weight;
                p.max_fails = us.max_fails;
                p.fail_timeout = us.fail_timeout;
                p.max_conns = us.max_conns;
                p.down = us.down;
                p.backup = us.backup;
                (us.backup ? g.backups : g.peers).push_back(p);
            }
        }
        if (uc.implicit && uc.servers.size() == 1) {
            const conf::UpstreamServer& us = uc.servers.front();
            if (!us.unix_path.empty()) {
                g.host = "localhost";
                g.port = "";
            } else {
                g.host = us.port == 80 ? us.host : fmt::format("{}:{}", us.host, us.port);
                g.port = std::to_string(us.port);
            }
        } else {
            g.host = uc.name;
            g.port = "80";
        }
        upstreams_.push_back(std::move(g));
    }
    return ok;
}

// A LocationRt for every location and every server's defaults, with the content
// handler chosen once here.
void Runtime::build_locations() {
    auto add = [&](const conf::LocationConf& l) {
        auto rt = std::make_unique<LocationRt>();
        rt->conf = &l;
        rt->content = choose_content(l);
        locations_[&l] = rt.get();
        location_list_.push_back(std::move(rt));
    };
    for (const auto& s : config_->http->servers) {
        add(s->defaults);
        for_each_location(*s, add);
    }
}

bool Runtime::open_logs(conf::Diagnostics& diags) {
    bool ok = true;
    for (auto& loc : location_list_)
        open_location_logs(*loc, diags, ok);
    return ok;
}

void Runtime::open_location_logs(LocationRt& rt, conf::Diagnostics& diags, bool& ok) {
    const conf::LocationConf& loc = *rt.conf;
    for (const conf::ErrorLogConf& e : loc.error_logs) {
        std::string error;
        int fd = core::LogFiles::instance().open(e.path, error);
        if (fd < 0) {
            diags.push_back(error_at(e.loc, error));
            ok = false;
            continue;
        }
        rt.error_log.push_back({fd, e.level});
    }
    std::vector<AccessLogRt> targets;
    for (const conf::AccessLogConf& a : loc.access_logs) {
        if (a.path_template || a.path.rfind("syslog:", 0) == 0) continue;  // not supported
        std::string error;
        int fd = core::LogFiles::instance().open(a.path, error);
        if (fd < 0 && a.loc.line == 0) {
            // The implicit default (prefix/logs/access.log, as nginx) is not worth
            // refusing to start over: say so once and log nothing.
            if (warned_default_log_++ == 0) {
                conf::Diagnostic d = error_at(a.loc, error + ", access logging is off");
                d.level = conf::LogLevel::warn;
                diags.push_back(std::move(d));
            }
            continue;
        }
        if (fd < 0) {
            diags.push_back(error_at(a.loc, error));
            ok = false;
            continue;
        }
        targets.push_back({fd, &a});
    }
    rt.access_logs = std::move(targets);
}

const ServerRt& Runtime::find_server(int tag, std::string_view host, conf::Captures* caps,
                                     const conf::Regex** matched) const {
    const AddressRt& a = addresses_[tag];
    const conf::ServerConf* s = a.index->find(host, caps, matched);
    return *by_conf_.at(s);
}

// The server a TLS client names in its SNI, by the same rules as Host; the address's
// default server when the name is unknown or invalid. Called from several workers at
// once during handshakes: it only reads.
const ServerRt* Runtime::sni_server(const AddressRt& a, std::string_view name) const {
    char buf[256];
    if (name.empty() || name.size() > sizeof buf) return a.default_server;
    auto host = validate_host(name, buf);
    if (!host) return a.default_server;
    return by_conf_.at(a.index->find(host->host, nullptr));
}

// Certificates of every TLS server, and for each `listen ... ssl` address a context of
// its default server that switches by SNI. Failures name the certificate's position.
bool Runtime::build_tls(conf::Diagnostics& diags) {
    bool ok = true;
    for (auto& srv : servers_) {
        const conf::ServerConf& sc = *srv->conf;
        if (!sc.ssl || sc.ssl->certificates.empty()) continue;
        srv->ssl_ctx = server_tls_context(*sc.ssl, diags);
        ok = srv->ssl_ctx && ok;
    }
    if (!ok) return false;
    for (AddressRt& a : addresses_) {
        if (!a.ssl) continue;
        const conf::ServerConf& def = *a.default_server->conf;
        if (!def.ssl || def.ssl->certificates.empty()) {
            diags.push_back(error_at(def.loc,
                                     "no \"ssl_certificate\" is defined for the "
                                     "\"listen ... ssl\" directive"));
            ok = false;
            continue;
        }
        a.ssl_ctx = server_tls_context(*def.ssl, diags);
        if (!a.ssl_ctx) {
            ok = false;
            continue;
        }
        const AddressRt* addr = &a;
        core::set_sni_selector(a.ssl_ctx.get(), [this, addr](std::string_view name) {
            core::SniChoice choice;
            const ServerRt* s = sni_server(*addr, name);
            if (s && s->ssl_ctx) choice.ctx = s->ssl_ctx.get();
            return choice;
        });
    }
    for (auto& loc : location_list_)
        ok = upstream_tls_context(*loc->conf, loc->upstream_tls, diags) && ok;
    return ok;
}

}  // namespace ferry::http
