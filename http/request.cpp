#include "http/request.h"

#include "http/header_rules.h"

namespace ferry::http {

void Request::clear() {
    method = {};
    method_id = 0;
    target = {};
    request_line = {};
    http_major = 1;
    http_minor = 1;
    spans.clear();
    headers.clear();
    host.clear();
    uri.clear();
    args = {};
    uri_quoted = false;
    uri_valid_unparsed = true;
    host_header = {};
    has_host = false;
    content_length = -1;
    chunked = false;
    keep_alive = true;
    expect_continue = false;
    upgrade = false;
    head_only = false;
    server = nullptr;
    location = nullptr;
    location_rt = nullptr;
    phase = RequestPhase::server_rewrite;
    phase_hook = 0;
    uri_changes = 11;
    internal = false;
    uri_changed = false;
    error_page = false;
    err_status = 0;
    args_storage.clear();
    sent_head.clear();
    captures.offsets.clear();
    captures_subject = {};
    captures_regex = nullptr;
    server_captures.offsets.clear();
    server_regex = nullptr;
    status = 0;
    logged = false;
    start_ms = 0;
    start_wall_ms = 0;
    request_length = 0;
    bytes_sent = 0;
    body_bytes_sent = 0;
    body_received = 0;
    body_decoded = 0;
    body.clear();
    body_copy_dropped = false;
    upstream_addr.clear();
    upstream_status.clear();
    upstream_response_time.clear();
    upstream_connect_time.clear();
    upstream_header_time.clear();
    upstream_bytes_sent = 0;
    upstream_bytes_received = 0;
    proxy_host.clear();
    proxy_port.clear();
    map_done.assign(map_done.size(), 0);
    for (auto& v : set_values)
        v.clear();
}

std::string_view Request::header(std::string_view name) const {
    for (const HeaderField& h : headers) {
        if (equals_ignore_case(h.name, name)) return h.value;
    }
    return {};
}

bool Request::has_header(std::string_view name) const {
    for (const HeaderField& h : headers) {
        if (equals_ignore_case(h.name, name)) return true;
    }
    return false;
}

}  // namespace ferry::http
