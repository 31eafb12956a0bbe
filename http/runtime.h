// The configuration compiled for serving: listen addresses with their server lookup,
// servers with their location lookup, upstream groups with resolved peers, and opened
// log files. Built on the main thread from a conf::Config (at start, on reload and for
// `ferry -t`), then shared read-only by every worker as shared_ptr<const Runtime>.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/model.h"
#include "core/log.h"
#include "core/socket.h"
#include "core/tls.h"
#include "http/location_index.h"
#include "http/server_index.h"

namespace ferry::http {

struct ServerRt {
    const conf::ServerConf* conf = nullptr;
    std::unique_ptr<LocationIndex> locations;
    std::string name;         // the first server_name ($server_name), "" if none
    core::SslCtxPtr ssl_ctx;  // its certificates, when it has TLS settings
};

struct AddressRt {
    core::SockAddr addr;
    bool ssl = false;
    bool reuseport = true;
    int backlog = 511;
    int ipv6only = -1;
    std::unique_ptr<ServerIndex> index;
    const ServerRt* default_server = nullptr;
    // For `listen ... ssl`: the default server's context, with SNI switching to the
    // server the client names (by server_name rules, as for Host).
    core::SslCtxPtr ssl_ctx;
};

struct Peer {
    core::SockAddr addr;
    std::string name;  // "127.0.0.1:8080" for $upstream_addr and logs
    int weight = 1;
    int max_fails = 1;
    conf::Msec fail_timeout = 10000;
    int max_conns = 0;
    bool backup = false;
    bool down = false;
};

struct UpstreamGroup {
    const conf::UpstreamConf* conf = nullptr;
    std::vector<Peer> peers;    // primary
    std::vector<Peer> backups;  // used only when every primary is down
    std::string host;           // $proxy_host: "name" for a block, "host:port" (port if not 80)
    std::string port;           // $proxy_port
};

// An access_log target with its opened file.
struct AccessLogRt {
    int fd = -1;
    const conf::AccessLogConf* conf = nullptr;
};

class ContentHandler;

// What a location (or a server's defaults) needs at run time beyond its settings.
struct LocationRt {
    const conf::LocationConf* conf = nullptr;
    const ContentHandler* content = nullptr;  // null: nothing to serve (404)
    std::vector<AccessLogRt> access_logs;     // empty: not logged
    // Its own error_log (http, server or location level); empty: the main error log.
    std::vector<core::ErrorLog::Target> error_log;
    core::SslCtxPtr upstream_tls;  // the client context when the target is https://
};

class Runtime {
  public:
    // Compiles `config`. Problems (unresolvable hosts, unopenable files) are appended to
    // `diags`; returns nullptr if any is an error.
    static std::shared_ptr<const Runtime> build(std::shared_ptr<const conf::Config> config,
                                                conf::Diagnostics& diags, bool open_files = true);

    const conf::Config& config() const { return *config_; }
    const std::vector<AddressRt>& addresses() const { return addresses_; }
    const AddressRt& address(int tag) const { return addresses_[tag]; }
    const UpstreamGroup& upstream(int index) const { return upstreams_[index]; }
    size_t upstream_count() const { return upstreams_.size(); }

    // The server for `host` on the listener `tag` (captures of a regex name, if any).
    const ServerRt& find_server(int tag, std::string_view host, conf::Captures* caps,
                                const conf::Regex** matched = nullptr) const;
    const ServerRt& server_of(const conf::ServerConf* s) const { return *by_conf_.at(s); }

    // The run-time side of a location or of a server's defaults.
    const LocationRt& location(const conf::LocationConf& loc) const { return *locations_.at(&loc); }
    // Opened access log targets of a location (empty: not logged).
    const std::vector<AccessLogRt>& access_logs(const conf::LocationConf& loc) const {
        return location(loc).access_logs;
    }
    // The client context of a location whose proxy_pass is https://, else null.
    SSL_CTX* upstream_tls(const conf::LocationConf& loc) const {
        return location(loc).upstream_tls.get();
    }

  private:
    Runtime() = default;
    bool build_addresses(conf::Diagnostics& diags);
    bool build_upstreams(conf::Diagnostics& diags);
    bool open_logs(conf::Diagnostics& diags);
    bool build_tls(conf::Diagnostics& diags);
    void build_locations();
    const ServerRt* sni_server(const AddressRt& a, std::string_view name) const;
    void open_location_logs(LocationRt& loc, conf::Diagnostics& diags, bool& ok);

    std::shared_ptr<const conf::Config> config_;
    std::vector<std::unique_ptr<ServerRt>> servers_;
    std::unordered_map<const conf::ServerConf*, const ServerRt*> by_conf_;
    std::vector<AddressRt> addresses_;
    std::vector<UpstreamGroup> upstreams_;
    std::vector<std::unique_ptr<LocationRt>> location_list_;  // in configuration order
    std::unordered_map<const conf::LocationConf*, const LocationRt*> locations_;
    int warned_default_log_ = 0;
};

}  // namespace ferry::http
