// One request to an upstream, whatever the protocol: choose a peer, connect (or reuse a
// kept-alive connection), run TLS, send the request head and stream the body, read the
// response head, relay the body to the client with back-pressure, then hand the
// connection back to the pool, retry on another peer (proxy_next_upstream), or after a
// `101 Switching Protocols` hand both sockets to a tunnel. The protocol itself (request
// format, response parsing, body framing) is the codec's (upstream_codec.h).
//
// Stages (nginx's names in brackets):
//   connecting [ngx_http_upstream_connect] -> tls_handshake -> exchanging [send_request,
//   process_header] -> relaying [process_upstream/downstream] -> done
//   A failure before the response started retries or answers 502/504.
//
// Timeouts follow progress: the connect timer runs while connecting, the send timer
// only while the upstream does not take request bytes, the read timer only while ferry
// waits for upstream bytes it is ready to take (never while a slow client holds the
// response back).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "core/timers.h"
#include "http/content.h"
#include "http/out_queue.h"
#include "http/runtime.h"
#include "http/upstream_codec.h"
#include "http/upstream_pool.h"

namespace ferry::core {
class TlsStream;
}

namespace ferry::http {

struct HeaderInfo;

class ClientConnection;
class HttpWorker;

class UpstreamSession final : public ContentSession, public core::IoHandler {
  public:
    explicit UpstreamSession(HttpWorker& worker);
    ~UpstreamSession() override;
    UpstreamSession(const UpstreamSession&) = delete;
    UpstreamSession& operator=(const UpstreamSession&) = delete;

    // Sessions are reused (HttpWorker keeps a pool): bind() ties one to a connection's
    // routed request and a protocol, start() runs it, reset() makes it ready again.
    void bind(ClientConnection& client, UpstreamCodec::Kind kind);
    void start();
    void reset();
    void on_io(uint32_t events) override;

    // ContentSession
    void on_body_available() override;
    void on_client_drained() override;
    void on_client_failed() override;
    void on_client_maybe_closed() override;
    const std::vector<HeaderField>* upstream_headers() const override;
    bool response_started() const override { return x_.response_started; }
    void release() override;

    // For the codec.
    ClientConnection& client() { return *c_; }
    const conf::LocationConf& location() const { return *loc_; }
    const conf::ProxyConf& settings() const { return *conf_; }
    // The length of the body sent upstream: known when buffered or given by the
    // client's Content-Length, -1 for a chunked body streamed as it arrives.
    int64_t body_length() const;

  private:
    enum class Stage : uint8_t {
        waiting_body,  // *_request_buffering: reading the whole body first
        connecting,
        tls_handshake,
        exchanging,
        relaying,
        done
    };
    enum class Failure : uint8_t { error, timeout, invalid_header, upgrade_refused, http_status };
    // How the body reaches the client: with the upstream's length, re-chunked, until the
    // close (HTTP/1.0 clients), or not at all.
    enum class ClientFraming : uint8_t { none, length, chunked, close };

    // target and peers (upstream_session.cpp)
    bool resolve_target(std::string& error);
    void connect_next();
    bool open_connection(const Peer& peer);
    void on_connected();
    void begin_exchange();
    void fail(Failure kind, int err, std::string_view what);
    bool can_retry(Failure kind) const;
    int peer_count() const;
    void finish();
    void end_relay(bool midbody_error, std::string_view what);
    void close_upstream(bool reusable);
    void record_upstream(int status);
    std::string upstream_url() const;
    void log_upstream_error(conf::LogLevel level, std::string_view message);
    bool once_in_response(const HeaderField& h, const HeaderInfo& info, uint64_t& seen);
    void on_read_timeout();
    void on_write_timeout();

    // TLS to the upstream (upstream_tls.cpp)
    bool start_tls(const Peer& peer);
    void tls_handshake();

    // request (upstream_send.cpp)
    bool build_request();
    void send_request();
    bool next_body_piece();
    bool next_buffered_piece();
    bool queue_body_end();

    // response (upstream_receive.cpp)
    void read_response();
    bool read_upstream(bool& eof);
    void on_response_head(size_t body_at);
    bool retry_on_status(int status);
    void write_client_head();
    void relay_body();
    bool queue_body_step(bool& progressed);
    void wait_for_upstream();

    // 101 Switching Protocols (upstream_upgrade.cpp)
    void start_upgrade();

    HttpWorker& w_;
    ClientConnection* c_ = nullptr;
    std::shared_ptr<const Runtime> rt_;
    const conf::LocationConf* loc_ = nullptr;
    const conf::ProxyConf* conf_ = nullptr;
    UpstreamCodec* codec_ = nullptr;
    // One codec of each kind, made on first use and kept with the session.
    std::array<std::unique_ptr<UpstreamCodec>, static_cast<size_t>(UpstreamCodec::Kind::count_)>
        codecs_;

    // Kept across requests for their capacity (cleared by reset()).
    Peer adhoc_;       // a target with variables naming an address
    std::string uri_;  // the URI sent upstream
    std::vector<bool> tried_;
    std::vector<bool> tried_backup_;
    OutQueue req_out_;        // the request toward the upstream
    std::string file_piece_;  // a piece of a buffered body read from its temporary file
    core::Buffer in_;         // the response from the upstream
    std::unique_ptr<UpstreamConn> up_;
    core::TlsStream* up_tls_ = nullptr;  // up_->stream when the target is TLS
    std::string tls_name_;               // SNI / verified name
    PeerChoice choice_;
    int group_ = -1;  // upstream group, or -1 for adhoc_
    core::Timer read_timer_;
    core::Timer write_timer_;

    // One attempt (one peer, one connection); reset by connect_next().
    struct Attempt {
        bool reused = false;        // a kept-alive connection from the pool
        bool sent_any = false;      // a byte of this attempt's request went upstream
        bool request_sent = false;  // the whole request went upstream
        bool body_end_queued = false;
        size_t borrowed = 0;     // request body bytes lent to req_out_ from the client buffer
        uint64_t body_sent = 0;  // of a buffered body, bytes sent by this attempt
        size_t parsed = 0;       // response bytes given to the codec's head parser
        bool readable = false;
        bool writable = false;
        bool peer_closed = false;  // RDHUP/HUP seen: read until EOF, whatever the sizes
        bool upstream_eof = false;
        int read_error = 0;  // errno of the last failed read
        int64_t connect_start_ms = 0;
        int64_t connect_ms = -1;
        int64_t header_ms = -1;
    } a_;

    // The whole exchange for one client request; reset by reset().
    struct Exchange {
        Stage stage = Stage::connecting;
        int tries = 0;
        int64_t first_try_ms = 0;
        bool retried_stale = false;
        bool body_started = false;  // some request body byte went upstream: no retry
        bool response_started = false;
        int status = 0;
        ClientFraming framing = ClientFraming::none;
        bool chunk_crlf_due = false;  // re-chunking: the last chunk's CRLF is not sent yet
        size_t pending_consume = 0;   // bytes of in_ lent to the client queue
        bool body_done = false;
        bool in_relay = false;  // re-entrancy guards: the client's callbacks loop back
        bool in_send = false;
    } x_;
};

}  // namespace ferry::http
