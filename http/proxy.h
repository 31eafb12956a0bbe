// One proxied request: choose a peer, connect (or reuse a keep-alive connection), send
// the request head and stream the body, read the response head, relay the body with
// back-pressure, and either hand the connection back to the pool or, after a
// `101 Switching Protocols`, hand both sockets to a tunnel.
//
// Phases (nginx's names in brackets):
//   connect [ngx_http_upstream_connect] -> send [send_request] -> head [process_header]
//   -> body [process_upstream/downstream] -> finish | upgrade | fail (retry or 502/504)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "core/timers.h"
#include "http/chunked.h"
#include "http/out_queue.h"
#include "http/response_reader.h"
#include "http/runtime.h"
#include "http/upstream_pool.h"

namespace ferry::core {
class TlsStream;
}

namespace ferry::http {

class ClientConnection;
class HttpWorker;

class ProxySession final : public core::Deferred, public core::IoHandler {
  public:
    explicit ProxySession(HttpWorker& worker);
    ~ProxySession() override;
    ProxySession(const ProxySession&) = delete;
    ProxySession& operator=(const ProxySession&) = delete;

    // Sessions are reused (HttpWorker keeps a pool): bind() ties one to a connection's
    // routed request, start() runs it, reset() makes it ready for another.
    void bind(ClientConnection& client);
    void start();
    void reset();
    void on_io(uint32_t events) override;

    // Events from the client connection.
    void on_body_available();       // request body spans are ready to send
    void on_client_drained();       // everything queued toward the client was written
    void on_client_failed();        // the client connection is going away
    void on_client_maybe_closed();  // EPOLLRDHUP while waiting on the upstream
    void append_response_header(bool upstream, std::string_view name, std::string& out);
    bool response_started() const { return s_.response_started; }

  private:
    enum class Phase : uint8_t { connecting, tls_handshake, sending, head, body, done };
    enum class Failure : uint8_t { error, timeout, invalid_header, upgrade_refused, http_status };
    enum class Framing : uint8_t { none, length, chunked, close };

    // target and peers (proxy.cpp)
    bool resolve_target(std::string& error);
    void connect_next();
    void on_connected();
    void fail(Failure kind, int err, std::string_view what);
    bool can_retry(Failure kind) const;
    int peer_count() const;  // how many attempts nginx would make at most
    void finish();
    void close_upstream(bool reusable);
    void record_upstream(int status);
    std::string upstream_url() const;
    void log_upstream_error(conf::LogLevel level, std::string_view message);

    // TLS to the upstream (proxy_tls.cpp)
    bool start_tls(const Peer& peer);
    void tls_handshake();

    // request (proxy_request.cpp)
    void build_request_head();
    void send_request();
    bool next_body_piece();

    // response (proxy_response.cpp)
    void read_response();
    bool read_upstream(bool& eof);
    void on_response_head();
    void write_client_head();
    void append_location(std::string_view value, core::Buffer& out);
    void append_refresh(std::string_view value, core::Buffer& out);
    bool retry_on_status(int status);
    void start_upgrade();
    void relay_body();
    bool next_relay_piece(bool& progressed);
    void fail_midbody(std::string_view what);
    void keep_head();
    void on_read_timeout();
    void on_write_timeout();

    HttpWorker& w_;
    ClientConnection* c_ = nullptr;
    std::shared_ptr<const Runtime> rt_;
    const conf::LocationConf* loc_ = nullptr;
    const conf::ProxyConf* conf_ = nullptr;

    // Kept across requests for their capacity (cleared by reset()).
    Peer adhoc_;       // proxy_pass with variables naming an address
    std::string uri_;  // the URI sent upstream
    std::vector<bool> tried_;
    std::vector<bool> tried_backup_;
    std::string head_copy_;  // the response head, for $upstream_http_*
    OutQueue req_out_;       // the request toward the upstream
    core::Buffer in_;        // the response from the upstream
    ResponseReader head_reader_;
    ChunkedDecoder decoder_;
    std::unique_ptr<UpstreamConn> up_;
    core::TlsStream* up_tls_ = nullptr;  // up_->stream when proxy_pass is https://
    std::string tls_name_;               // SNI / verified name
    PeerChoice choice_;
    int group_ = -1;  // upstream group, or -1 for adhoc_
    core::Timer read_timer_;
    core::Timer write_timer_;

    // Everything else about one request, reset at once.
    struct State {
        int tries = 0;
        int64_t first_try_ms = 0;
        bool reused = false;
        bool retried_stale = false;
        size_t borrowed = 0;        // body bytes lent to req_out_ from the client buffer
        bool body_chunked = false;  // re-chunking a chunked request body
        bool chunk_open = false;    // a chunk's data was sent without its CRLF yet
        bool last_chunk_sent = false;
        bool body_started = false;  // some body byte went upstream: no retry possible
        bool request_sent = false;
        bool attempt_sent = false;    // a byte of this attempt's request went upstream
        bool sent_upgrade = false;    // the upstream request carried Upgrade
        size_t parsed_head = 0;       // bytes of the current head parsed so far
        bool chunk_crlf_due = false;  // re-chunking: the last chunk's CRLF is not sent yet
        Framing framing = Framing::none;
        bool client_chunked = false;  // re-framing a close-delimited body as chunked
        bool chunk_pass = false;      // passing chunked framing through unchanged
        uint64_t remaining = 0;       // for Framing::length
        size_t pending_consume = 0;   // bytes of in_ lent to the client queue
        bool upstream_eof = false;
        bool body_done = false;
        bool response_started = false;
        bool upstream_keepalive = false;
        bool in_relay = false;
        bool in_send = false;
        int status = 0;
        Phase phase = Phase::connecting;
        bool readable = false;
        bool writable = false;
        bool peer_closed = false;  // RDHUP/HUP seen: read until EOF, whatever the sizes
        int64_t connect_start_ms = 0;
        int64_t connect_ms = -1;
        int64_t header_ms = -1;
    } s_;
};

}  // namespace ferry::http
