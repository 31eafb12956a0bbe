// One request's head as parsed off a client connection, plus what the request has
// become while being served (server, location, status, byte counts). A connection
// keeps one Request and clears it between requests, so strings and vectors keep their
// capacity and a warmed-up connection parses without allocating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/model.h"
#include "conf/regex.h"
#include "http/request_body.h"

namespace ferry::http {

struct ServerRt;
struct LocationRt;

// Where a request is in nginx's phases (ngx_http_core_run_phases). An internal redirect
// (error_page, try_files, a named location) goes back to server_rewrite or rewrite;
// `rewrite ... last` goes back to find_location through post_rewrite.
enum class RequestPhase : uint8_t {
    server_rewrite,
    find_location,
    rewrite,
    post_rewrite,
    preaccess,
    access,
    post_access,
    precontent,
    content,
};

struct HeaderField {
    std::string_view name;
    std::string_view value;
};

// Offsets of a header while the head is still arriving (the buffer may grow and move).
struct HeaderSpan {
    uint32_t name_off = 0;
    uint32_t name_len = 0;
    uint32_t value_off = 0;
    uint32_t value_len = 0;
};

struct Request {
    // ---- as received (views into the connection's read buffer, valid until the
    // request ends)
    std::string_view method;
    uint8_t method_id = 0;    // llhttp_method
    std::string_view target;  // request-target as sent ($request_uri)
    std::string_view request_line;
    uint8_t http_major = 1;
    uint8_t http_minor = 1;
    std::vector<HeaderSpan> spans;
    std::vector<HeaderField> headers;

    // ---- derived from the head
    std::string host;         // normalised $host source (absolute-form host, Host, or "")
    std::string uri;          // normalised path ($uri)
    std::string_view args;    // after '?' in target, undecoded ($args)
    bool uri_quoted = false;  // the path had %-escapes (proxy_pass re-escapes)
    bool uri_valid_unparsed = true;
    std::string_view host_header;  // raw Host header value, "" if none
    bool has_host = false;
    int64_t content_length = -1;
    bool chunked = false;
    bool keep_alive = true;
    bool expect_continue = false;
    bool upgrade = false;    // the client sent Upgrade (nginx: r->headers_in.upgrade)
    bool head_only = false;  // HEAD

    // ---- what serving it decided
    const ServerRt* server = nullptr;
    const conf::LocationConf* location = nullptr;
    const LocationRt* location_rt = nullptr;  // with `location` (or the server's defaults)
    RequestPhase phase = RequestPhase::server_rewrite;
    uint8_t phase_hook = 0;  // the next hook of the phase (a waiting hook runs again)
    // nginx's uri_changes: internal redirects left before "rewrite or internal
    // redirection cycle" (500).
    int uri_changes = 11;
    bool internal = false;     // reached by an internal redirect: `internal` locations serve it
    bool uri_changed = false;  // a rewrite changed $uri: find the location again
    bool error_page = false;   // an error_page redirect happened (recursive_error_pages off)
    int err_status = 0;        // the status sent whatever the content says (error_page)
    std::string args_storage;  // args after an internal redirect (args points here)
    std::string sent_head;     // the response head as sent, for $sent_http_*
    conf::Captures captures;   // from a regex location (or server_name)
    std::string_view captures_subject;
    const conf::Regex* captures_regex = nullptr;  // for named captures
    // A regex server_name's captures: its named ones stay variables for the whole
    // request (nginx sets them when the server is chosen).
    conf::Captures server_captures;
    const conf::Regex* server_regex = nullptr;
    int status = 0;
    bool logged = false;
    uint32_t request_id_for = 0;  // which request of the connection $request_id is for
    int64_t start_ms = 0;         // monotonic, first byte of the request
    int64_t start_wall_ms = 0;
    uint64_t request_length = 0;  // head + body bytes read
    uint64_t bytes_sent = 0;      // head + body bytes written
    uint64_t header_bytes = 0;    // of the response head
    uint64_t body_bytes_sent = 0;
    uint64_t body_received = 0;  // body bytes read, chunked framing included
    uint64_t body_decoded = 0;   // body bytes without the framing
    // The body as kept (buffered for the upstream, or the first client_body_buffer_size
    // bytes of a streamed one, for $request_body).
    RequestBody body;
    bool body_copy_dropped = false;  // a streamed body outgrew client_body_buffer_size

    // upstream facts for $upstream_* and the log
    std::string upstream_addr;
    std::string upstream_status;
    std::string upstream_response_time;
    std::string upstream_connect_time;
    std::string upstream_header_time;
    uint64_t upstream_bytes_sent = 0;
    uint64_t upstream_bytes_received = 0;
    std::string proxy_host;
    std::string proxy_port;

    // per-request caches of variables that are costly or must be stable
    std::vector<std::string> map_values;  // one per map, valid where map_done
    std::vector<uint8_t> map_done;
    std::vector<std::string> set_values;  // `set` variables

    void clear();
    // The value of the first header named `name` (case-insensitive), or "" if none.
    std::string_view header(std::string_view name) const;
    bool has_header(std::string_view name) const;
};

}  // namespace ferry::http
