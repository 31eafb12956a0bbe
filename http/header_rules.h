// What ferry knows about header names and a few header values: which headers are
// connection-specific, which frame the body, which nginx does not pass upstream or hides
// from clients by default, and the checks nginx applies to request header lines
// (ngx_http_parse_header_line, ngx_http_process_request_header).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::http {

enum class KnownHeader : uint8_t {
    authorization,
    connection,
    content_length,
    content_range,
    content_type,
    cookie,
    date,
    etag,
    expect,
    expires,
    host,
    if_match,
    if_modified_since,
    if_none_match,
    if_range,
    if_unmodified_since,
    keep_alive,
    last_modified,
    location,
    proxy_authorization,
    proxy_connection,
    refresh,
    server,
    te,
    trailer,
    transfer_encoding,
    upgrade,
    x_accel_buffering,
    x_accel_charset,
    x_accel_expires,
    x_accel_limit_rate,
    x_accel_redirect,
    x_forwarded_for,
    x_pad,
    x_real_ip,
};

enum HeaderFlag : uint16_t {
    // Connection-specific (RFC 9110 section 7.6.1, plus Proxy-Connection): never relayed.
    hf_hop_by_hop = 1 << 0,
    // Frames the message body: Content-Length, Transfer-Encoding.
    hf_framing = 1 << 1,
    // Not passed from the client to the upstream: Connection, Keep-Alive, TE, Trailer,
    // Transfer-Encoding, Upgrade, Proxy-Connection, Expect (ferry answers 100 itself).
    hf_not_forwarded_upstream = 1 << 2,
    // Written by the proxy itself in the upstream request (Host: $proxy_host by default,
    // Content-Length for the body it sends).
    hf_set_by_proxy = 1 << 3,
    // nginx's proxy_hide_header defaults: Date, Server, X-Pad, X-Accel-Expires,
    // X-Accel-Redirect, X-Accel-Limit-Rate, X-Accel-Buffering, X-Accel-Charset.
    hf_hidden_from_client = 1 << 4,
    // Upstream response headers nginx never copies to the client: Connection, Keep-Alive,
    // Transfer-Encoding and Content-Length (re-framed), Upgrade is passed on any status.
    hf_not_relayed_to_client = 1 << 5,
    // A second one in a request is answered with 400 (nginx's unique header lines).
    hf_unique_in_request = 1 << 6,
    // Once in an upstream's response: nginx passes the first one and ignores the others
    // with a warning (Content-Type, Date, ETag, Expires, Last-Modified, Location,
    // Refresh, Server).
    hf_single_in_response = 1 << 7,
};

struct HeaderInfo {
    KnownHeader id;
    std::string_view name;  // canonical spelling
    uint16_t flags;
    bool has(HeaderFlag f) const { return (flags & f) != 0; }
};

// The entry for `name` (any case), or nullptr for a header ferry has no rule for.
const HeaderInfo* lookup_header(std::string_view name);

// True when `a` and `b` are equal ignoring ASCII case.
bool equals_ignore_case(std::string_view a, std::string_view b);

// --- Connection ------------------------------------------------------------------------

// The comma-separated tokens of a header value, OWS trimmed, empty elements skipped:
// for (std::string_view t : TokenList(value)) ...
class TokenList {
  public:
    explicit TokenList(std::string_view value) : value_(value) {}
    class Iterator {
      public:
        Iterator(std::string_view rest) : rest_(rest) { advance(); }
        std::string_view operator*() const { return token_; }
        Iterator& operator++() {
            advance();
            return *this;
        }
        bool operator==(const Iterator& o) const { return done_ == o.done_; }

      private:
        void advance();
        std::string_view rest_;
        std::string_view token_;
        bool done_ = false;
    };
    Iterator begin() const { return Iterator(value_); }
    Iterator end() const { return Iterator({}); }

  private:
    std::string_view value_;
};

// True when the comma list `value` has `token` (any case) as one of its elements.
bool has_token(std::string_view value, std::string_view token);

enum ConnectionOption : uint8_t {
    co_close = 1,
    co_keep_alive = 2,
    co_upgrade = 4,
};
// The close / keep-alive / upgrade tokens of a Connection header value, as bits.
// (nginx itself looks for the substrings "close" and "keep-alive"; ferry reads tokens.)
uint8_t parse_connection(std::string_view value);

// --- framing ---------------------------------------------------------------------------

// A Content-Length value as nginx's ngx_atoof reads it: one or more digits, nothing else
// (OWS around it aside), at most 2^63-1. nullopt means 400 (a duplicate header is a 400
// too: hf_unique_in_request).
std::optional<int64_t> parse_content_length(std::string_view value);

enum class TransferCoding : uint8_t {
    chunked,      // exactly "chunked" (any case, OWS around it)
    unsupported,  // anything else: nginx answers 501 to a client ("unknown
                  // Transfer-Encoding") and treats it as an invalid upstream header (502)
};
// nginx accepts only a Transfer-Encoding that is exactly "chunked": "gzip, chunked",
// "chunked, chunked" or "identity" are all refused. (With HTTP/1.0, or together with
// Content-Length, a request's Transfer-Encoding is a 400; see the caller.)
TransferCoding parse_transfer_encoding(std::string_view value);

// --- request header validity -----------------------------------------------------------

enum class HeaderNameCheck : uint8_t {
    valid,
    // A character nginx does not allow in names (e.g. '.', '@', '_' without
    // underscores_in_headers, bytes >= 0x80): the line is dropped when
    // ignore_invalid_headers is on (the default) and kept otherwise.
    invalid,
    bad_request,  // empty name, a control byte, space, DEL: 400
};
HeaderNameCheck check_header_name(std::string_view name, bool underscores_in_headers);

// A request header value ferry accepts: no NUL (nginx's rule, 400), and no CR or LF
// inside it (a bare CR, or an obs-fold that llhttp's lenient mode let through).
bool is_valid_header_value(std::string_view value);

}  // namespace ferry::http
