// Settings as written at one level (http, server, location), before inheritance: each
// is unset (nullopt) until a directive sets it, so that a repeat is "is duplicate" and
// the merge can tell "inherit" from "set here", as nginx's NGX_CONF_UNSET does.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conf/model.h"
#include "conf/syntax.h"

namespace ferry::conf {

template <class T>
using Opt = std::optional<T>;

struct BufsSetting {  // "N size", as proxy_buffers and large_client_header_buffers
    int64_t num = 0;
    int64_t size = 0;
};

struct RedirectSetting {
    ProxyConf::RedirectMode mode = ProxyConf::RedirectMode::by_default;
    std::vector<ProxyRedirect> rules;
    bool has_default_rule = false;  // `proxy_redirect default` among explicit rules
};

// add_header_inherit: how a level with its own add_header treats its parent's.
enum class AddHeaderInherit : uint8_t { off, on, merge };

struct RootSetting {
    Template path;
    bool alias = false;
    size_t alias_strip = 0;
    bool alias_regex = false;
    std::string prefix;  // for a path with variables that turns out relative
};

// nginx's loc_conf: settable in http, server and location, inherited downwards.
struct LocSettings {
    Opt<int> proxy_http_version;
    Opt<std::vector<HeaderRule>> proxy_set_headers;
    Opt<std::vector<std::string>> proxy_hide_headers;
    Opt<std::vector<std::string>> proxy_pass_headers;
    Opt<Msec> proxy_connect_timeout;
    Opt<Msec> proxy_read_timeout;
    Opt<Msec> proxy_send_timeout;
    Opt<bool> proxy_buffering;
    Opt<bool> proxy_request_buffering;
    Opt<int64_t> proxy_buffer_size;
    Opt<BufsSetting> proxy_buffers;
    Opt<uint16_t> proxy_next_upstream;
    Opt<int64_t> proxy_next_upstream_tries;
    Opt<Msec> proxy_next_upstream_timeout;
    Opt<bool> proxy_ssl_server_name;
    Opt<Template> proxy_ssl_name;
    Opt<bool> proxy_ssl_verify;
    Opt<std::string> proxy_ssl_trusted_certificate;
    Opt<int64_t> proxy_ssl_verify_depth;
    Opt<uint8_t> proxy_ssl_protocols;
    Opt<bool> proxy_ssl_session_reuse;
    Opt<std::string> proxy_ssl_ciphers;
    Opt<RedirectSetting> proxy_redirect;

    Opt<int64_t> client_max_body_size;
    Opt<int64_t> client_body_buffer_size;
    Opt<std::string> client_body_temp_path;
    Opt<Msec> client_body_timeout;
    Opt<Msec> send_timeout;
    Opt<Msec> lingering_time;
    Opt<Msec> lingering_timeout;
    Opt<Msec> keepalive_timeout;
    Opt<Msec> keepalive_header;  // keepalive_timeout's second parameter; -1 = none
    Opt<int64_t> keepalive_requests;
    Opt<std::vector<AccessLogConf>> access_logs;  // engaged and empty: access_log off
    Opt<std::vector<ErrorLogConf>> error_logs;
    Opt<std::vector<AddHeader>> add_headers;
    Opt<std::vector<ErrorPage>> error_pages;
    Opt<bool> recursive_error_pages;
    Opt<bool> proxy_intercept_errors;
    Opt<AddHeaderInherit> add_header_inherit;
    Opt<bool> serves_files;  // root/alias/index/try_files seen here
    Opt<RootSetting> root;
    Opt<std::vector<Template>> index;
    Opt<std::vector<TryFile>> try_files;  // not inherited
    std::shared_ptr<const MimeTypes> types;
    Opt<std::string> default_type;
    Opt<bool> etag;
    Opt<StaticConf::IfModifiedSince> if_modified_since;
    Opt<bool> log_not_found;

    // Filled by the merge: the list in effect at this level, shared with the levels
    // that inherit it (nginx compiles each proxy_set_header set once).
    std::shared_ptr<const std::vector<HeaderRule>> set_headers_shared;
    std::shared_ptr<const std::vector<AddHeader>> add_headers_shared;
    std::shared_ptr<const std::vector<ErrorPage>> error_pages_shared;
    bool own_set_headers = false;  // proxy_set_header written at this very level

    // Positions of settings the WebSocket lint talks about.
    SourceLoc proxy_http_version_loc;
    SourceLoc proxy_read_timeout_loc;
};

// nginx's srv_conf: settable in http and server, inherited by servers.
struct SrvSettings {
    Opt<Msec> client_header_timeout;
    Opt<int64_t> client_header_buffer_size;
    Opt<BufsSetting> large_client_header_buffers;
    Opt<bool> underscores_in_headers;
    Opt<bool> ignore_invalid_headers;

    Opt<std::vector<Arg>> ssl_certificates;  // paired with keys by order
    Opt<std::vector<Arg>> ssl_certificate_keys;
    Opt<uint8_t> ssl_protocols;
    Opt<std::string> ssl_ciphers;
    Opt<bool> ssl_prefer_server_ciphers;
    Opt<std::pair<SslConf::SessionCache, uint64_t>> ssl_session_cache;
    Opt<Msec> ssl_session_timeout;
    Opt<bool> ssl_session_tickets;
    Opt<std::string> ssl_dhparam;
    Opt<std::string> ssl_ecdh_curve;
    Opt<bool> ssl_on;  // the removed `ssl on;` directive, accepted with a warning
    SourceLoc ssl_on_loc;
};

// Main (top-level) and events settings.
struct MainSettings {
    Opt<bool> daemon;
    Opt<std::string> pid;
    Opt<int> worker_processes;  // -1 = auto
    Opt<int64_t> worker_rlimit_nofile;
    Opt<Msec> worker_shutdown_timeout;
    Opt<int64_t> worker_connections;
    std::vector<ErrorLogConf> error_logs;
    bool seen_events = false;
    bool seen_http = false;
};

}  // namespace ferry::conf
