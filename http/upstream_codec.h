// The protocol half of talking to an upstream: what HTTP, uwsgi, SCGI and FastCGI do
// differently, as nginx's upstream modules fill in create_request / process_header /
// input_filter. Everything they share (peer choice, connecting, TLS, timeouts, retries,
// relaying the request body and the response to the client, keep-alive, the upgrade
// hand-over) lives once in UpstreamSession.
//
// A codec is per-request state owned by its session and reused with it; begin() starts
// it over for a request, create_request() for each attempt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/model.h"
#include "core/buffer.h"
#include "http/request.h"

namespace ferry::http {

class ClientConnection;
class UpstreamSession;

// A response head as the session relays it: the status and the headers for the client
// (views into storage the codec owns, valid until the codec is begun again).
struct UpstreamHead {
    int status = 0;
    std::string_view reason;  // "" for the standard phrase
    uint8_t http_minor = 1;
    std::vector<HeaderField> headers;
    int64_t content_length = -1;  // the body's length when the protocol says it
};

// One step through the response body (like ChunkedDecoder::Result).
struct BodyStep {
    enum class Status : uint8_t {
        need_more,  // everything given was framing (or too little): read more
        data,       // `data` is body bytes, a view into the input
        done,       // the body ended; `consumed` bytes of the input belong to it
        error,      // the framing is invalid: `error` says how
    };
    Status status = Status::need_more;
    size_t consumed = 0;  // bytes of the input used, `data` included
    std::string_view data;
    const char* error = "";
};

class UpstreamCodec {
  public:
    virtual ~UpstreamCodec() = default;

    enum class Kind : uint8_t { http, count_ };

    // The settings the session runs on (timeouts, buffers, next_upstream, headers to
    // hide or pass) and the target, for this protocol in `loc`.
    virtual const conf::ProxyConf& settings(const conf::LocationConf& loc) const = 0;
    virtual const conf::ProxyPass& target(const conf::LocationConf& loc) const = 0;
    // Scheme for $upstream_* URLs in the error log ("http://").
    virtual std::string_view scheme(const conf::LocationConf& loc) const = 0;

    // A new request through `s` (the codec may keep references to it until reset()).
    virtual void begin(UpstreamSession& s) = 0;
    // Forgets the request.
    virtual void reset() = 0;

    // ---- request
    // The request up to its body, appended to `out`; called again for every attempt.
    // `uri` is the URI to send. Returns 0, or the status to answer when the request
    // cannot be made for this protocol (the codec logged why).
    virtual int create_request(std::string_view uri, core::Buffer& out) = 0;
    // Whether the upstream request carries an Upgrade (so a 101 may follow).
    virtual bool asks_upgrade() const = 0;
    // Framing before a request-body piece of `n` bytes (into `out`); returns the
    // constant framing that follows the piece. end_body: after the last piece.
    virtual std::string_view frame_body_piece(size_t n, core::Buffer& out) = 0;
    virtual void end_body(core::Buffer& out) = 0;
    // The largest body piece one frame may carry (0: no limit).
    virtual size_t max_body_piece() const { return 0; }

    // ---- response head
    enum class HeadStatus : uint8_t { need_more, done, error };
    // Parses buf[from, to) (a buffer whose bytes from the head's start stay in place
    // until done). On done, head() is filled and `body_at` is the offset of the first
    // body byte in buf; on error, `error` says what was wrong.
    virtual HeadStatus process_header(const char* buf, size_t from, size_t to, size_t& body_at,
                                      std::string& error) = 0;
    virtual const UpstreamHead& head() const = 0;
    // Whether a 101 from this protocol may become a tunnel.
    virtual bool can_upgrade() const = 0;

    // ---- response body
    // Starts the body after the head. `no_body`: the client gets none (HEAD, 204, 304).
    // False with `error` when the head's framing is invalid (a 502).
    virtual bool init_body(bool no_body, std::string& error) = 0;
    // The next body step from `in`.
    virtual BodyStep next_body(std::string_view in) = 0;
    // The protocol's framing says the body ended (not for a close-delimited body).
    virtual bool body_complete() const = 0;
    // The upstream closed: true if that ends the body properly.
    virtual bool eof_ends_body() const = 0;
    // After the body ended: the connection may serve another request.
    virtual bool keepalive() const = 0;

    // ---- relaying headers to the client
    // Appends a Location / Refresh value as the client should see it (proxy_redirect).
    virtual void rewrite_location(std::string_view value, std::string& out) { out += value; }
    virtual void rewrite_refresh(std::string_view value, std::string& out) { out += value; }
};

}  // namespace ferry::http
