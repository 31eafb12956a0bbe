// One client connection: reads requests (keep-alive, pipelining), routes each to its
// server and location, answers it (return, error page, or through a ProxySession), and
// enforces nginx's client timeouts. Lives and dies on one worker thread.
//
// Request cycle:  head -> route -> [body] -> respond -> log -> keep-alive | close
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/stream.h"
#include "core/timers.h"
#include "http/out_queue.h"
#include "http/request.h"
#include "http/request_reader.h"

namespace ferry::core {
class TlsStream;
}

namespace ferry::http {

class HttpWorker;
class ProxySession;
class RequestVars;
class Runtime;
struct AddressRt;

class ClientConnection final : public core::Deferred, public core::IoHandler {
  public:
    ClientConnection(HttpWorker& worker, std::unique_ptr<core::Stream> stream,
                     const core::SockAddr& peer, int listener_tag, uint64_t number);
    ~ClientConnection() override;

    void start();
    void on_io(uint32_t events) override;
    // Graceful stop: an idle connection closes now, a busy one after its request.
    void quit();
    // Immediate stop.
    void terminate() { close_now(); }

    // ---- for ProxySession and variables
    HttpWorker& worker() { return worker_; }
    Request& request() { return req_; }
    const Runtime& runtime() const { return *runtime_; }
    core::Stream& stream() { return *stream_; }
    const core::SockAddr& peer() const { return peer_; }
    const core::SockAddr& local();
    uint64_t number() const { return number_; }
    uint32_t requests() const { return requests_; }
    const AddressRt& address() const;

    // Output toward the client. send_output() writes what is queued; when it drains
    // during a proxied response, the session hears on_client_drained().
    OutQueue& out() { return out_; }
    void send_output();
    // Request body for the session: spans parsed but not yet forwarded.
    std::string_view next_body_span();
    void body_span_sent(size_t n);
    bool body_complete() const { return body_state_ == BodyState::done; }
    bool body_pending() const { return span_index_ < reader_.spans().size(); }
    // Sends `100 Continue` if the client asked for it and it was not sent yet.
    void continue_if_expected();
    // Resumes reading the body (the session drained what it was given).
    void resume_body();

    // The session finished the response: `reusable` says whether the client connection
    // can serve another request (the response was framed and complete).
    void response_done(bool reusable);
    // The session failed before any byte of the response: answer `status` instead.
    void respond_error(int status);
    // Something broke mid-response: close without a well-formed end (as nginx).
    void abort_response();
    // Hands the socket and the bytes pipelined after the request head to a tunnel.
    std::unique_ptr<core::Stream> take_stream_for_tunnel(std::string& pipelined);
    void tunnel_started();
    // Response heads: add_header lines for `status`; whether the connection stays open
    // after this response (for the Connection header); forbid keeping it.
    void append_add_headers(int status, core::Buffer& out);
    void append_keepalive_header(core::Buffer& out);
    // Appends `url`, made absolute when it starts with '/' (absolute_redirect).
    void append_absolute(std::string_view url, std::string& out);
    bool will_keep_alive() const;
    void set_no_keepalive() { keepalive_ = false; }

    // An error-log line with nginx's context: client, server, request, upstream (when
    // given), host.
    void log_error(conf::LogLevel level, std::string_view message, std::string_view upstream = {});
    // Variables that live here: $upstream_http_* / $sent_http_* of the response being
    // relayed, $request_id (random, fixed per request), $ssl_* of the TLS session.
    void append_response_header(bool upstream, std::string_view name, std::string& out);
    void append_request_id(std::string& out);
    void append_tls_variable(conf::BuiltinVar v, std::string& out);

    ClientConnection* prev = nullptr;  // the worker's list of connections
    ClientConnection* next = nullptr;

  private:
    enum class Phase : uint8_t { handshake, head, handling, linger, closed };
    enum class BodyState : uint8_t { none, reading, done };

    void handshake();
    void on_readable();
    void on_writable();
    void read_head();
    bool fill_buffer(size_t room, bool& eof);
    void begin_request();
    HeadLimits head_limits() const;
    bool adopt_runtime();
    void on_head_done();
    void route();
    void dispatch();
    bool validate_head(int& status);
    void run_set(const conf::SetVar& s, RequestVars& vars);
    void handle_return(const conf::ReturnConf& ret);
    void redirect(int code, std::string_view url);
    void respond_text(int code, std::string_view text);
    bool start_response();
    void start_proxy();
    void read_body();
    void feed_body();
    void discard_body_spans();
    bool chunked_body_too_large();
    void arm_body_timer();
    void finish_request();
    void next_request();
    void send_simple(int status, std::string_view location, bool close_after);
    void respond(int status, std::string_view content_type, std::string_view body,
                 std::string_view location);
    void fail_request(int status, std::string_view reason);
    void linger();
    bool needs_lingering_close() const;
    void close_now();
    void on_read_timeout();
    void on_write_timeout();
    void on_linger_timeout();
    void write_access_log();
    // Ends the proxy session; it is freed after this loop iteration because it may be
    // the caller.
    void drop_proxy();
    const conf::LocationConf& loc() const;

    HttpWorker& worker_;
    std::shared_ptr<const Runtime> runtime_;
    std::unique_ptr<core::Stream> stream_;
    core::TlsStream* tls_ = nullptr;  // stream_ when it is TLS
    bool plain_http_ = false;         // plain HTTP arrived on a TLS port
    core::SockAddr peer_;
    core::SockAddr local_;
    bool local_known_ = false;
    int tag_;
    uint64_t number_;
    uint32_t requests_ = 0;

    core::Buffer in_;
    size_t req_start_ = 0;  // offset of the current request in in_
    size_t parsed_ = 0;     // offset up to which in_ was given to the parser
    RequestReader reader_;
    Request req_;
    OutQueue out_;
    std::unique_ptr<ProxySession> proxy_;
    std::string scratch_;  // URI normalisation and other per-request text
    char request_id_[32];
    bool request_id_set_ = false;

    core::Timer read_timer_;
    core::Timer write_timer_;
    Phase phase_ = Phase::head;
    BodyState body_state_ = BodyState::none;
    size_t span_index_ = 0;      // next body span to hand out
    size_t span_offset_ = 0;     // bytes of that span already sent
    bool discard_body_ = false;  // read and drop the body (return, errors)
    bool response_done_ = false;
    bool keepalive_ = true;
    bool idle_ = true;  // between requests, no byte of the next one yet
    bool quitting_ = false;
    bool continue_sent_ = false;
    bool readable_ = true;  // edge-triggered readiness as last seen
    bool writable_ = true;
    bool peer_closed_ = false;
    int64_t linger_deadline_ = 0;
};

}  // namespace ferry::http
