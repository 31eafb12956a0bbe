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

namespace ferry::http {

class ClientConnection;
class HttpWorker;

class ProxySession final : public core::Deferred, public core::IoHandler {
public:
    explicit ProxySession(ClientConnection& client);
    ~ProxySession() override;
    ProxySession(const ProxySession&) = delete;
    ProxySession& operator=(const ProxySession&) = delete;

    void start();
    void on_io(uint32_t events) override;

    // Events from the client connection.
    void on_body_available();       // request body spans are ready to send
    void on_client_drained();       // everything queued toward the client was written
    void on_client_failed();        // the client connection is going away
    void on_client_maybe_closed();  // EPOLLRDHUP while waiting on the upstream
    void append_response_header(bool upstream, std::string_view name, std::string& out);

private:
    enum class Phase : uint8_t { connecting, sending, head, body, done };
    enum class Failure : uint8_t { error, timeout, invalid_header, upgrade_refused };
    enum class Framing : uint8_t { none, length, chunked, close };

    // target and peers (proxy.cpp)
    bool resolve_target(std::string& error);
    void connect_next();
    void on_connected();
    void fail(Failure kind, int err, std::string_view what);
    bool can_retry(Failure kind) const;
    void finish();
    void close_upstream(bool reusable);
    void record_upstream(int status);
    std::string upstream_url() const;
    void log_upstream_error(conf::LogLevel level, std::string_view message);

    // request (proxy_request.cpp)
    void build_request_head();
    void send_request();
    bool next_body_piece();

    // response (proxy_response.cpp)
    void read_response();
    bool read_upstream(bool& eof);
    void on_response_head();
    void write_client_head();
    void start_upgrade();
    void relay_body();
    bool next_relay_piece(bool& progressed);
    void fail_midbody(std::string_view what);
    void keep_head();
    void on_read_timeout();
    void on_write_timeout();

    ClientConnection& c_;
    HttpWorker& w_;
    std::shared_ptr<const Runtime> rt_;
    const conf::LocationConf& loc_;
    const conf::ProxyConf& conf_;

    // where to
    int group_ = -1;              // upstream group, or -1 for adhoc_
    Peer adhoc_;                  // proxy_pass with variables naming an address
    std::string uri_;             // the URI sent upstream
    PeerChoice choice_;
    std::vector<bool> tried_;
    std::vector<bool> tried_backup_;
    int tries_ = 0;
    int64_t first_try_ms_ = 0;
    std::unique_ptr<UpstreamConn> up_;
    bool reused_ = false;
    bool retried_stale_ = false;

    // request toward the upstream
    OutQueue req_out_;
    size_t borrowed_ = 0;          // body bytes lent to req_out_ from the client buffer
    bool body_chunked_ = false;    // re-chunking a chunked request body
    bool chunk_open_ = false;      // a chunk's data was sent without its CRLF yet
    bool last_chunk_sent_ = false;
    bool body_started_ = false;    // some body byte went upstream: no retry possible
    bool request_sent_ = false;
    bool sent_upgrade_ = false;    // the upstream request carried Upgrade

    // response from the upstream
    core::Buffer in_;
    ResponseReader head_reader_;
    size_t parsed_head_ = 0;       // bytes of the current head parsed so far
    std::string head_copy_;        // the response head, for $upstream_http_*
    bool chunk_crlf_due_ = false;  // re-chunking: the last chunk's CRLF is not sent yet
    Framing framing_ = Framing::none;
    bool client_chunked_ = false;  // re-framing a close-delimited body as chunked
    bool chunk_pass_ = false;      // passing chunked framing through unchanged
    uint64_t remaining_ = 0;       // for Framing::length
    ChunkedDecoder decoder_;
    size_t pending_consume_ = 0;   // bytes of in_ lent to the client queue
    bool upstream_eof_ = false;
    bool body_done_ = false;
    bool response_started_ = false;
    bool upstream_keepalive_ = false;
    bool in_relay_ = false;
    bool in_send_ = false;
    int status_ = 0;

    Phase phase_ = Phase::connecting;
    bool readable_ = false;
    bool writable_ = false;
    core::Timer read_timer_;
    core::Timer write_timer_;
    int64_t connect_start_ms_ = 0;
    int64_t connect_ms_ = -1;
    int64_t header_ms_ = -1;
};

}  // namespace ferry::http
