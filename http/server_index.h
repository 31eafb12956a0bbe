// Virtual server selection for one listen address, as nginx's server_name documentation
// and ngx_http_find_virtual_server describe it: the exact name; else the longest leading
// wildcard ("*.example.com", or ".example.com" which also matches "example.com"); else
// the longest trailing wildcard ("www.example.*"); else the first matching regex in
// config order; else the address's default server. A name claimed by two servers keeps
// the first (nginx warns "conflicting server name" and ignores the later one).
//
// Built once per listen address when the configuration loads; lookups allocate nothing.
#pragma once

#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/model.h"

namespace ferry::http {

class ServerIndex {
  public:
    // `servers`: the servers listening on the address, in config order; they must outlive
    // the index. `default_server`: the one whose `listen` for this address says
    // default_server, or nullptr for the first.
    ServerIndex(std::span<const conf::ServerConf* const> servers,
                const conf::ServerConf* default_server);

    // The server for `host`, already normalised by validate_host() (lowercase, no port,
    // no trailing dot); "" when the request has none (HTTP/1.0 without Host), which only
    // matches `server_name ""`. With `captures`, a regex name's captures are stored there
    // (untouched otherwise). Never nullptr when the index has servers.
    // With `matched`, the regex whose captures were stored is put there.
    const conf::ServerConf* find(std::string_view host, conf::Captures* captures,
                                 const conf::Regex** matched = nullptr) const;

    const conf::ServerConf* default_server() const { return default_; }

  private:
    struct Regex {
        const conf::Regex* regex;
        const conf::ServerConf* server;
    };
    struct Wildcard {
        const conf::ServerConf* server;
        bool matches_bare = false;  // ".example.com": also "example.com" itself
    };

    const conf::ServerConf* find_leading_wildcard(std::string_view host) const;
    const conf::ServerConf* find_trailing_wildcard(std::string_view host) const;

    const conf::ServerConf* default_ = nullptr;
    std::unordered_map<std::string_view, const conf::ServerConf*> exact_;
    std::unordered_map<std::string_view, Wildcard> leading_;                  // "example.com"
    std::unordered_map<std::string_view, const conf::ServerConf*> trailing_;  // "www.example"
    std::vector<Regex> regexes_;
};

}  // namespace ferry::http
