// The whole-configuration pass after parsing: inheritance, listen addresses, server
// names, upstreams for proxy_pass, and the final model.
#include <fmt/format.h>
#include <unistd.h>

#include <map>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/lint.h"
#include "conf/merge.h"

namespace ferry::conf {
namespace {

void merge_locations(std::vector<std::unique_ptr<LocationBuild>>& list, const LocSettings& parent) {
    for (auto& lb : list) {
        merge_loc(lb->settings, parent);
        merge_locations(lb->children, lb->settings);
    }
}

// Moves a merged location subtree into the model.
std::unique_ptr<LocationConf> assemble_location(LocationBuild& lb) {
    apply_loc(lb.settings, *lb.conf);
    for (auto& child : lb.children)
        lb.conf->locations.push_back(assemble_location(*child));
    return std::move(lb.conf);
}

ListenConf default_listen(const ServerConf& srv) {
    ListenConf l;
    l.port = getuid() == 0 ? 80 : 8000;  // as nginx, which cannot bind 80 without root
    l.addr_text = fmt::format("0.0.0.0:{}", l.port);
    l.loc = srv.loc;
    return l;
}

struct AddressUse {
    std::vector<std::pair<ServerBuild*, ListenConf*>> listens;
};

}  // namespace

class Finisher {
  public:
    explicit Finisher(Builder& b) : b_(b), http_(*b.http) {}

    bool run() {
        // nginx's default temp path, under the prefix.
        if (!http_.loc.client_body_temp_path) {
            http_.loc.client_body_temp_path = b_.full_path("client_body_temp", false);
        }
        if (!http_.loc.root) {  // nginx's default root
            RootSetting root;
            root.path = Template::literal(b_.full_path("html", false));
            http_.loc.root = root;
        }
        merge_loc(http_.loc, LocSettings{});
        if (!http_.loc.access_logs) {
            AccessLogConf log;
            log.path = b_.full_path("logs/access.log", false);
            http_.loc.access_logs = std::vector<AccessLogConf>{log};
        }
        for (auto& sb : http_.servers) {
            merge_srv(sb->srv, http_.srv);
            merge_loc(sb->loc, http_.loc);
            merge_locations(sb->locations, sb->loc);
            if (!prepare_listens(*sb)) return false;
        }
        if (!check_addresses()) return false;
        if (!resolve_proxy_passes()) return false;
        if (!check_map_cycles()) return false;
        lint_websocket(b_, http_);
        assemble();
        return true;
    }

  private:
    bool prepare_listens(ServerBuild& sb) {
        ServerConf& srv = *sb.conf;
        if (srv.listens.empty()) srv.listens.push_back(default_listen(srv));
        if (sb.srv.ssl_on.value_or(false)) {
            for (ListenConf& l : srv.listens)
                l.ssl = true;
        }
        if (srv.names.empty()) srv.names.push_back(ServerName{});  // nginx's implicit ""
        for (size_t i = 0; i < sb.srv.ssl_certificates.value_or(std::vector<Arg>{}).size(); ++i) {
            const auto& keys = sb.srv.ssl_certificate_keys;
            if (!keys || i >= keys->size()) {
                const Arg& cert = (*sb.srv.ssl_certificates)[i];
                return b_.error(cert.loc, fmt::format("no \"ssl_certificate_key\" is defined for "
                                                      "certificate \"{}\"",
                                                      printable(cert.text)));
            }
        }
        for (ListenConf& l : srv.listens) {
            uses_[l.addr_text].listens.emplace_back(&sb, &l);
        }
        return true;
    }

    bool check_addresses() {
        for (auto& [addr, use] : uses_) {
            if (!check_address(addr, use)) return false;
        }
        return true;
    }

    bool check_address(const std::string& addr, AddressUse& use) {
        ListenConf* default_listen = nullptr;
        ListenConf* options = nullptr;
        bool ssl = false;
        for (size_t i = 0; i < use.listens.size(); ++i) {
            auto [sb, l] = use.listens[i];
            for (size_t j = 0; j < i; ++j) {
                if (use.listens[j].first == sb) {
                    return b_.error(l->loc, fmt::format("a duplicate listen {}", addr));
                }
            }
            if (l->default_server) {
                if (default_listen) {
                    return b_.error(l->loc, fmt::format("a duplicate default server for {}", addr),
                                    fmt::format("the default server is already set at {}",
                                                default_listen->loc.to_string()));
                }
                default_listen = l;
            }
            if (l->has_options) {
                if (options) {
                    return b_.error(l->loc, fmt::format("duplicate listen options for {}", addr),
                                    "socket options may be given by one listen per address");
                }
                options = l;
            }
            ssl = ssl || l->ssl;
        }
        if (ssl && !check_ssl(addr, use, default_listen)) return false;
        return check_server_names(addr, use);
    }

    // nginx: every listen of a TLS address is TLS, and its default server needs a
    // certificate.
    bool check_ssl(const std::string& addr, AddressUse& use, ListenConf* default_listen) {
        ServerBuild* def = use.listens.front().first;
        ListenConf* ssl_listen = nullptr;
        for (auto [sb, l] : use.listens) {
            if (l == default_listen) def = sb;
            if (l->ssl && !ssl_listen) ssl_listen = l;
            l->ssl = true;
        }
        if (!def->srv.ssl_certificates || def->srv.ssl_certificates->empty()) {
            return b_.error(
                ssl_listen->loc,
                "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive",
                fmt::format("add ssl_certificate and ssl_certificate_key to the default "
                            "server of {} or to http{{}}",
                            addr));
        }
        return true;
    }

    // nginx's ngx_http_server_names(): a name two servers of one address share is a
    // warning (the first server keeps it); a malformed wildcard is an error.
    bool check_server_names(const std::string& addr, AddressUse& use) {
        HostnameTable names;
        std::vector<ServerBuild*> seen;
        int server_id = 0;
        for (auto [sb, l] : use.listens) {
            if (std::find(seen.begin(), seen.end(), sb) != seen.end()) continue;
            seen.push_back(sb);
            ++server_id;
            std::vector<std::string> own;
            for (const ServerName& n : sb->conf->names) {
                if (n.kind == ServerName::Kind::regex) continue;
                if (std::find(own.begin(), own.end(), n.name) != own.end()) continue;
                own.push_back(n.name);
                HostnameTable::AddResult r = names.add(n.name, server_id);
                SourceLoc at = n.loc.has_position() ? n.loc : sb->conf->loc;
                if (r == HostnameTable::AddResult::conflict) {
                    b_.warn(at,
                            fmt::format("conflicting server name \"{}\" on {}, ignored",
                                        printable(n.name), addr),
                            "another server on this address already has this name");
                } else if (r == HostnameTable::AddResult::invalid) {
                    return b_.error(at, fmt::format("invalid server name or wildcard \"{}\" on {}",
                                                    printable(n.name), addr));
                }
            }
        }
        return true;
    }

    bool resolve_proxy_passes() {
        std::vector<UpstreamConf>& ups = http_.conf.upstreams;
        for (const PendingProxyPass& pp : http_.proxy_passes) {
            ProxyPass& pass = *pp.pass;
            if (pass.unix_path.empty()) {
                int explicit_index = find_explicit(pass.host);
                if (explicit_index >= 0) {
                    if (pp.port_written) {
                        return b_.error(pass.loc,
                                        fmt::format("upstream \"{}\" may not have port {}",
                                                    printable(pass.host), pass.port),
                                        fmt::format("the upstream is defined at {}",
                                                    ups[explicit_index].loc.to_string()));
                    }
                    pass.upstream = explicit_index;
                    continue;
                }
            }
            pass.upstream = implicit_upstream(pass);
        }
        return true;
    }

    // A map whose source or values lead back to its own variable would recurse forever
    // when evaluated (nginx fails such requests at run time); refuse it at load.
    bool check_map_cycles() {
        const auto& maps = http_.conf.maps;
        std::vector<std::vector<uint32_t>> edges(maps.size());
        auto collect = [&](size_t from, const Template& t) {
            for (const Template::Part& p : t.parts()) {
                if (p.is_var && p.var.kind == VarKind::map) edges[from].push_back(p.var.id);
            }
        };
        for (size_t i = 0; i < maps.size(); ++i) {
            collect(i, maps[i]->source);
            for (const Template& v : maps[i]->values)
                collect(i, v);
        }
        enum { unseen, active, done };
        std::vector<int> state(maps.size(), unseen);
        std::vector<uint32_t> path;
        auto visit = [&](auto& self, uint32_t m) -> bool {
            state[m] = active;
            path.push_back(m);
            for (uint32_t next : edges[m]) {
                if (next >= maps.size()) continue;
                if (state[next] == active) return cycle_error(path, next);
                if (state[next] == unseen && !self(self, next)) return false;
            }
            path.pop_back();
            state[m] = done;
            return true;
        };
        for (uint32_t m = 0; m < maps.size(); ++m) {
            if (state[m] == unseen && !visit(visit, m)) return false;
        }
        return true;
    }

    bool cycle_error(const std::vector<uint32_t>& path, uint32_t back_to) {
        const auto& maps = http_.conf.maps;
        std::string chain;
        bool in_cycle = false;
        for (uint32_t m : path) {
            in_cycle = in_cycle || m == back_to;
            if (in_cycle) chain += "$" + maps[m]->variable + " -> ";
        }
        chain += "$" + maps[back_to]->variable;
        return b_.error(
            maps[back_to]->loc,
            fmt::format("map variable \"${}\" depends on itself", maps[back_to]->variable),
            fmt::format("the chain is {}", chain));
    }

    int find_explicit(const std::string& host) const {
        const auto& ups = http_.conf.upstreams;
        for (size_t i = 0; i < ups.size(); ++i) {
            if (!ups[i].implicit && to_lower(ups[i].name) == to_lower(host)) {
                return static_cast<int>(i);
            }
        }
        return -1;
    }

    // proxy_pass http://host:port shares one implicit upstream per host and port.
    int implicit_upstream(const ProxyPass& pass) {
        uint16_t port =
            pass.port ? pass.port : (pass.scheme == ProxyPass::Scheme::https ? 443 : 80);
        std::string name = pass.unix_path.empty() ? fmt::format("{}:{}", to_lower(pass.host), port)
                                                  : "unix:" + pass.unix_path;
        auto& ups = http_.conf.upstreams;
        for (size_t i = 0; i < ups.size(); ++i) {
            if (ups[i].implicit && ups[i].name == name) return static_cast<int>(i);
        }
        UpstreamConf u;
        u.name = name;
        u.implicit = true;
        u.keepalive = 0;
        u.loc = pass.loc;
        UpstreamServer s;
        s.host = pass.host;
        s.port = port;
        s.unix_path = pass.unix_path;
        s.loc = pass.loc;
        u.servers.push_back(std::move(s));
        ups.push_back(std::move(u));
        return static_cast<int>(ups.size() - 1);
    }

    void assemble() {
        HttpConf& out = http_.conf;
        out.set_variables = b_.vars.set_names();
        for (auto& sb : http_.servers) {
            ServerConf& srv = *sb->conf;
            apply_srv(sb->srv, srv);
            bool tls = std::any_of(srv.listens.begin(), srv.listens.end(),
                                   [](const ListenConf& l) { return l.ssl; });
            if (tls) {
                srv.ssl = make_ssl(sb->srv);
                srv.ssl->loc = srv.loc;
            }
            apply_loc(sb->loc, srv.defaults);
            for (auto& lb : sb->locations) {
                srv.locations.push_back(assemble_location(*lb));
            }
            out.servers.push_back(std::move(sb->conf));
        }
        b_.config.http = std::move(out);
    }

    Builder& b_;
    HttpBuild& http_;
    std::map<std::string, AddressUse> uses_;
};

bool Builder::finish() {
    if (!main.seen_events) return error(SourceLoc{}, "no \"events\" section in configuration");
    if (main.daemon) config.daemon = *main.daemon;
    config.pid = main.pid.value_or(full_path(config.pid, false));
    if (main.worker_processes) {
        config.worker_processes_auto = *main.worker_processes < 0;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        config.worker_processes = config.worker_processes_auto
                                      ? static_cast<int>(cpus > 0 ? cpus : 1)
                                      : *main.worker_processes;
    }
    if (main.worker_connections)
        config.worker_connections = static_cast<int>(*main.worker_connections);
    if (main.worker_rlimit_nofile) {
        config.worker_rlimit_nofile = static_cast<uint64_t>(*main.worker_rlimit_nofile);
    }
    if (main.worker_shutdown_timeout)
        config.worker_shutdown_timeout = *main.worker_shutdown_timeout;
    config.error_logs = main.error_logs;
    if (!http) return true;
    Finisher f(*this);
    return f.run();
}

}  // namespace ferry::conf
