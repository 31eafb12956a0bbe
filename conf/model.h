// The configuration model: what a loaded nginx-language file means, after parsing,
// validation and inheritance (http -> server -> location). Immutable once built; the
// runtime shares it between worker threads as a shared_ptr<const Config>.
//
// This layer knows nothing of sockets: addresses are kept as text and resolved by the
// layer that opens sockets; durations are milliseconds; sizes are bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/diagnostic.h"
#include "conf/log_level.h"
#include "conf/map.h"
#include "conf/regex.h"
#include "conf/source_loc.h"
#include "conf/template.h"

namespace ferry::conf {

using Msec = int64_t;  // a duration in milliseconds

struct ErrorLogConf {
    std::string path;  // "stderr" or a file path resolved against the prefix
    LogLevel level = LogLevel::error;
    SourceLoc loc;
};

struct LogFormat {
    std::string name;
    enum class Escape : uint8_t { standard, json, none } escape = Escape::standard;
    Template format;
    SourceLoc loc;
};

// With no access_log anywhere, every level gets nginx's default, prefix + logs/access.log
// in "combined"; that implicit entry is the one whose `loc` has no position.
struct AccessLogConf {
    std::string path;  // "/dev/stdout" etc. resolved against the prefix; "syslog:..." kept
    std::optional<Template> path_template;  // when the path has variables
    int format = 0;                         // index into HttpConf::log_formats (0 = combined)
    std::optional<Template> condition;      // if=... : not logged when "" or "0"
    SourceLoc loc;
};

// One `listen` directive.
struct ListenConf {
    std::string host;  // IP literal ("127.0.0.1", "::"), a host name, or "" for all (*)
    uint16_t port = 80;
    std::string unix_path;  // non-empty for listen unix:/path
    bool ssl = false;
    bool default_server = false;
    bool reuseport = false;
    std::optional<bool> ipv6only;
    int backlog = 511;
    int rcvbuf = -1;  // -1 = system default
    int sndbuf = -1;
    bool has_options = false;  // backlog=, rcvbuf=, reuseport... (only one server may set them)
    std::string addr_text;     // nginx's text for the address: "0.0.0.0:80", "[::]:443", "unix:/p"
    SourceLoc loc;
};

struct ServerName {
    enum class Kind : uint8_t { exact, wildcard_front, wildcard_back, regex } kind = Kind::exact;
    std::string name;  // lowercased; for wildcards the mask as written ("*.example.com",
                       // ".example.com", "www.example.*"); for regex the pattern
    std::shared_ptr<const Regex> regex;
    SourceLoc loc;
};

struct SslCertificate {
    std::string certificate;  // paths resolved against the prefix
    std::string key;
    SourceLoc loc;
};

enum SslProtocol : uint8_t {
    ssl_sslv3 = 1,
    ssl_tlsv1 = 2,
    ssl_tlsv1_1 = 4,
    ssl_tlsv1_2 = 8,
    ssl_tlsv1_3 = 16,
};

struct SslConf {
    std::vector<SslCertificate> certificates;
    uint8_t protocols = ssl_tlsv1_2 | ssl_tlsv1_3;
    std::string ciphers = "HIGH:!aNULL:!MD5";
    bool prefer_server_ciphers = false;
    enum class SessionCache : uint8_t {
        off,
        none,
        builtin,
        shared
    } session_cache = SessionCache::none;
    uint64_t session_cache_size = 0;  // bytes for shared, sessions for builtin
    Msec session_timeout = 5 * 60 * 1000;
    bool session_tickets = true;
    std::string dhparam;
    std::string ecdh_curve = "auto";
    SourceLoc loc;  // the first ssl_* directive or ssl listen that made this server TLS
};

struct HeaderRule {
    std::string name;  // as written
    Template value;    // an empty result means "do not send"
    SourceLoc loc;
};

// add_header NAME VALUE [always]: added to responses with status 200, 201, 204, 206,
// 301, 302, 303, 304, 307, 308 (any status with `always`); an empty value adds nothing.
struct AddHeader {
    std::string name;
    Template value;
    bool always = false;
    SourceLoc loc;
};

// `set $var value`, run in order before the level's `return`.
struct SetVar {
    uint32_t id = 0;  // index into HttpConf::set_variables
    Template value;
    SourceLoc loc;
};

// One proxy_redirect replacement of upstream Location/Refresh headers.
struct ProxyRedirect {
    Template from;                       // compared as a prefix (case-sensitive)
    std::shared_ptr<const Regex> regex;  // set for "~from" / "~*from"
    Template to;
    SourceLoc loc;
};

// proxy_pass target.
struct ProxyPass {
    enum class Scheme : uint8_t { http, https } scheme = Scheme::http;
    bool has_variables = false;
    Template url;                    // the whole argument (used when has_variables)
    std::string host;                // as written: name, IP literal or upstream block name
    uint16_t port = 0;               // 0 when not written
    std::string unix_path;           // http://unix:/path:
    std::optional<std::string> uri;  // the URI part, if any (may be "/")
    int upstream = -1;               // index into HttpConf::upstreams (explicit or implicit)
    SourceLoc loc;
};

enum NextUpstream : uint16_t {
    nu_error = 1,
    nu_timeout = 2,
    nu_invalid_header = 4,
    nu_http_500 = 8,
    nu_http_502 = 16,
    nu_http_503 = 32,
    nu_http_504 = 64,
    nu_http_403 = 128,
    nu_http_404 = 256,
    nu_http_429 = 512,
    nu_non_idempotent = 1024,
    nu_off = 2048,
};

struct ProxyConf {
    int http_version = 11;  // 10 or 11 (nginx >= 1.29.7 default: 1.1)
    // proxy_set_header rules as inherited (all or nothing): the rules of the nearest level
    // that has any. Defaults (Host $proxy_host, hop-by-hop removal) are applied by http/.
    std::shared_ptr<const std::vector<HeaderRule>> set_headers;
    std::vector<std::string> hide_headers;  // lowercased
    std::vector<std::string> pass_headers;  // lowercased
    bool intercept_errors = false;          // upstream statuses >= 300 go to error_page
    Msec connect_timeout = 60000;
    Msec read_timeout = 60000;
    Msec send_timeout = 60000;
    bool buffering = true;
    bool request_buffering = true;
    uint64_t buffer_size = 4096;
    int buffers_num = 8;
    uint64_t buffers_size = 4096;
    uint16_t next_upstream = nu_error | nu_timeout;
    int next_upstream_tries = 0;  // 0: unlimited
    Msec next_upstream_timeout = 0;
    // TLS to upstreams
    bool ssl_server_name = false;
    std::optional<Template> ssl_name;
    bool ssl_verify = false;
    std::string ssl_trusted_certificate;
    int ssl_verify_depth = 1;
    uint8_t ssl_protocols = ssl_tlsv1_2 | ssl_tlsv1_3;
    bool ssl_session_reuse = true;
    std::string ssl_ciphers = "DEFAULT";
    // proxy_redirect: `default` (nginx's default: rewrite the proxy_pass URL back to the
    // location) unless `off` or explicit replacements are given.
    enum class RedirectMode : uint8_t {
        by_default,
        off,
        custom
    } redirect_mode = RedirectMode::by_default;
    std::vector<ProxyRedirect> redirects;  // for custom (may include the default rule)
};

// error_page CODE ... [=[RESPONSE]] URI | @name | URL
struct ErrorPage {
    int status = 0;
    // -1: answer with `status` (nginx: 400 for 494-497); 0 (`=`): with the status the
    // target produces; otherwise with this code.
    int overwrite = -1;
    Template target;   // "/uri", "@name" or a redirect URL; may have variables
    std::string args;  // the "?args" of a literal "/uri?args"
    SourceLoc loc;
};

struct ReturnConf {
    int code = 0;
    std::optional<Template> text;  // body text, or URL for 301/302/303/307/308
    SourceLoc loc;
};

// Static files (root/alias, index, try_files, types): nginx's core and index modules.
struct MimeTypes {
    std::vector<std::pair<std::string, std::string>> by_extension;  // lowercased, sorted
    // The type for `ext` (any case), or null.
    const std::string* find(std::string_view ext) const;
};

struct TryFile {
    Template name;           // "$uri", "$uri/" (a directory), or the last: URI, "=CODE", "@name"
    bool directory = false;  // ends with '/': tests for a directory
};

struct StaticConf {
    Template root;                   // evaluated per request; relative results get `prefix`
    std::string prefix;              // nginx's prefix, for a root with variables
    bool alias = false;              // `alias`: replaces the location's prefix
    size_t alias_strip = 0;          // prefix alias: the defining location's name length
    bool alias_regex = false;        // alias in a regex location: the complete path
    std::vector<Template> index;     // default "index.html"
    std::vector<TryFile> try_files;  // this location's own (not inherited)
    std::shared_ptr<const MimeTypes> types;
    std::string default_type = "text/plain";
    bool etag = true;
    enum class IfModifiedSince : uint8_t {
        off,
        exact,
        before
    } if_modified_since = IfModifiedSince::exact;
    bool log_not_found = true;
};

struct LocationConf {
    enum class Match : uint8_t { prefix, exact, prefix_no_regex, regex, regex_icase, named };
    Match match = Match::prefix;
    std::string pattern;
    std::shared_ptr<const Regex> regex;
    SourceLoc loc;

    std::optional<ProxyPass> proxy_pass;  // not inherited
    std::optional<ReturnConf> ret;        // not inherited
    std::vector<SetVar> sets;             // not inherited; run before `ret`
    bool internal = false;                // `internal`: answers 404 to client requests
    ProxyConf proxy;                      // merged from enclosing levels
    // add_header rules as inherited (all or nothing, like proxy_set_header); may be null
    std::shared_ptr<const std::vector<AddHeader>> add_headers;
    // error_page rules as inherited (all or nothing); may be null
    std::shared_ptr<const std::vector<ErrorPage>> error_pages;
    bool recursive_error_pages = false;

    // core settings (merged)
    uint64_t client_max_body_size = 1024 * 1024;   // 0 = unlimited
    uint64_t client_body_buffer_size = 16 * 1024;  // request body kept in memory up to this
    std::string client_body_temp_path;             // where larger bodies go (absolute)
    Msec client_body_timeout = 60000;
    Msec send_timeout = 60000;
    Msec lingering_time = 30000;    // reading and dropping an unwanted body, in all
    Msec lingering_timeout = 5000;  // ... and between two reads
    Msec keepalive_timeout = 75000;
    Msec keepalive_header = -1;  // "Keep-Alive: timeout=N" (seconds) when >= 0
    int keepalive_requests = 1000;
    std::vector<AccessLogConf> access_logs;  // empty = off
    std::vector<ErrorLogConf> error_logs;    // empty = the main error_log
    bool serves_files = false;               // root/alias/index/try_files given: files served
    StaticConf files;

    std::vector<std::unique_ptr<LocationConf>> locations;  // nested, in config order
};

struct ServerConf {
    std::vector<ListenConf> listens;  // default: *:80 (or 8000 when not root, as nginx)
    std::vector<ServerName> names;
    std::optional<SslConf> ssl;     // merged ssl_* settings; set when a listen has `ssl`
    std::vector<SetVar> sets;       // server-level `set`, run for every request
    std::optional<ReturnConf> ret;  // server-level `return`, before location matching
    bool underscores_in_headers = false;
    bool ignore_invalid_headers = true;
    Msec client_header_timeout = 60000;
    uint64_t client_header_buffer_size = 1024;
    int large_client_header_buffers_num = 4;
    uint64_t large_client_header_buffers_size = 8192;
    // server-level defaults for requests matching no location
    LocationConf defaults;
    std::vector<std::unique_ptr<LocationConf>> locations;  // in config order
    SourceLoc loc;
};

struct UpstreamServer {
    std::string host;  // name or IP literal
    uint16_t port = 80;
    std::string unix_path;
    int weight = 1;
    int max_fails = 1;
    Msec fail_timeout = 10000;
    int max_conns = 0;
    bool backup = false;
    bool down = false;
    SourceLoc loc;
};

struct UpstreamConf {
    std::string name;
    bool implicit = false;  // made from proxy_pass http://host:port (not pooled)
    std::vector<UpstreamServer> servers;
    int keepalive = 32;           // idle connections per worker; 0 disables (implicit: 0)
    bool keepalive_local = true;  // cached connections are kept per location (nginx default)
    enum class Balance : uint8_t {
        round_robin,
        least_conn,
        random
    } balance = Balance::round_robin;  // least_conn/random are accepted and run as round robin
    int keepalive_requests = 1000;
    Msec keepalive_time = 3600 * 1000;
    Msec keepalive_timeout = 60000;
    SourceLoc loc;
};

struct HttpConf {
    std::vector<LogFormat> log_formats;      // [0] is "combined"
    std::vector<std::string> set_variables;  // names of `set` variables (VarKind::set ids)
    std::vector<UpstreamConf> upstreams;
    std::vector<std::unique_ptr<MapConf>> maps;
    std::vector<std::unique_ptr<ServerConf>> servers;
};

struct SourceFile {
    std::string path;
    std::string contents;
};

struct Config {
    std::string prefix;        // with a trailing '/'
    std::string conf_file;     // absolute path of the main file
    int worker_processes = 1;  // "auto" resolved by the loader to the online CPU count
    bool worker_processes_auto = false;
    int worker_connections = 512;
    uint64_t worker_rlimit_nofile = 0;  // 0 = leave alone
    std::string pid = "logs/ferry.pid";
    bool daemon = false;
    Msec worker_shutdown_timeout = 0;  // 0 = unset: wait for connections to end
    std::vector<ErrorLogConf> error_logs;
    std::optional<HttpConf> http;
    std::vector<SourceFile> files;  // every file read, in order, for -T
};

}  // namespace ferry::conf
