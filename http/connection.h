// One client connection: reads requests (keep-alive, pipelining), runs each through
// nginx's phases (phases.cpp) to its content handler, answers what ferry answers itself
// (respond.cpp), streams request bodies (connection_body.cpp) and enforces nginx's
// client timeouts. Lives and dies on one worker thread.
//
// Connection phases:
//   handshake -> head -> body | responding -> idle (keep-alive) -> head ...
//                                          -> lingering -> closed
//   `body`: the request is being served and its body is still arriving (for the
//   content, or dropped); `responding`: nothing more to read, the response is under
//   way. Which read timeout runs follows from the phase (wait_for_client()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "core/intrusive_list.h"
#include "core/log.h"
#include "core/socket.h"
#include "core/stream.h"
#include "core/timers.h"
#include "core/worker.h"
#include "http/content.h"
#include "http/out_queue.h"
#include "http/request.h"
#include "http/request_reader.h"
#include "tunnel/tunnel.h"

namespace ferry::core {
class TlsStream;
}

namespace ferry::http {

class HttpWorker;
class RequestVars;
class Runtime;
struct AddressRt;

class ClientConnection final : public core::Deferred, public core::IoHandler {
  public:
    ClientConnection(HttpWorker& worker, std::unique_ptr<core::Stream> stream,
                     core::ConnectionSlot slot, const core::SockAddr& peer, int listener_tag,
                     uint64_t number);
    ~ClientConnection() override;

    void start();
    void on_io(uint32_t events) override;
    // Graceful stop: an idle connection closes now, a busy one after its request.
    void quit();
    // Immediate stop (also: closing an idle connection to make room).
    void terminate() { close_now(); }
    bool idle() const { return phase_ == Phase::idle; }

    // ---- the request, for phases, content handlers and variables
    HttpWorker& worker() { return worker_; }
    Request& request() { return req_; }
    const Runtime& runtime() const { return *runtime_; }
    const std::shared_ptr<const Runtime>& runtime_ptr() const { return runtime_; }
    core::Stream& stream() { return *stream_; }
    const core::SockAddr& peer() const { return peer_; }
    const core::SockAddr& local();
    uint64_t number() const { return number_; }
    uint32_t requests() const { return requests_; }
    const AddressRt& address() const;
    // The location serving the request (the server's defaults before one is chosen).
    const conf::LocationConf& loc() const;

    // ---- phases (phases.cpp)
    // Runs the request from where req_.phase says until it is answered or waits.
    void run_phases();
    // nginx's internal redirect: serve `uri` (with `args`) as a new internal request of
    // the same server, from the server rewrite phase.
    void internal_redirect(std::string_view uri, std::string_view args);
    // Serve the request in the named location `name` ("@fallback"), from its rewrite
    // phase.
    void named_redirect(std::string_view name);

    // ---- answering (respond.cpp)
    // nginx's ngx_http_finalize_request() with a status: error_page if one applies, else
    // ferry's own page for `status` (444 closes without an answer). With `location`, the
    // response is a redirect to it.
    void finalize(int status, std::string_view location = {});
    // A complete response ferry composes itself.
    void respond(int status, std::string_view content_type, std::string_view body,
                 std::string_view location);
    // Whether finalize(status) would be answered by an error_page rule (nginx's
    // proxy_intercept_errors asks).
    bool has_error_page(int status) const;
    // The status line's code: error_page's err_status when set, else `status`.
    int status_for_client(int status) const { return req_.err_status ? req_.err_status : status; }

    // ---- content sessions
    // Before a handler writes its own response head: reads and drops the request body
    // at hand, as ferry does for its own answers. False if the request failed meanwhile.
    bool prepare_response() { return start_response(); }
    void attach_content(ContentSessionPtr session);
    // The session failed before any byte of the response: finalize with `status`.
    void content_failed(int status);
    // The session finished the response: `reusable` says whether the client connection
    // can serve another request (the response was framed and complete).
    void response_done(bool reusable);
    // Something broke mid-response: close without a well-formed end (as nginx).
    void abort_response();

    // Output toward the client. send_output() writes what is queued; when it drains
    // during a content session's response, the session hears on_client_drained().
    OutQueue& out() { return out_; }
    void send_output();
    // A response head went into out() (kept for $sent_http_*): from now on no other
    // response may start for this request.
    void record_sent_head(std::string_view head) {
        req_.sent_head.assign(head);
        response_started_ = true;
    }

    // The request body, for the content: streamed (spans as they arrive) or buffered
    // whole first (in memory up to client_body_buffer_size, then a temporary file:
    // request().body), as the content's *_request_buffering says. Either also sends
    // `100 Continue` when the client expects it.
    bool has_body() const { return req_.content_length > 0 || req_.chunked; }
    void stream_body();
    void buffer_body();
    bool body_buffered() const { return buffering_; }
    // Request body for the session: spans parsed but not yet forwarded.
    std::string_view next_body_span();
    void body_span_sent(size_t n);
    // No more body bytes will come for the content (none, all read, or dropped).
    bool body_complete() const { return body_state_ != BodyState::reading || discard_body_; }
    bool body_pending() const;
    // Sends `100 Continue` if the client asked for it and it was not sent yet.
    void continue_if_expected();
    // Resumes reading the body (the session drained what it was given).
    void resume_body();

    // Hands the socket, its worker_connections place and the bytes pipelined after the
    // request head to a tunnel; tunnel_started() then frees this object.
    tunnel::TunnelSide take_for_tunnel(std::string& pipelined);
    void tunnel_started();

    // Response heads: add_header lines for `status`; the Keep-Alive header; whether the
    // connection stays open after this response; forbid keeping it.
    void append_add_headers(int status, core::Buffer& out, size_t head_start);
    void append_keepalive_header(core::Buffer& out);
    // Appends `url`, made absolute when it starts with '/' (absolute_redirect).
    void append_absolute(std::string_view url, std::string& out);
    bool will_keep_alive() const;
    void set_no_keepalive() { keepalive_ = false; }

    // An error-log line with nginx's context: client, server, request, upstream (when
    // given), host. Goes to the location's error_log if it has one.
    void log_error(conf::LogLevel level, std::string_view message, std::string_view upstream = {});
    bool error_log_enabled(conf::LogLevel level) const;
    // The location's own error_log targets, or null for the main error log.
    const std::vector<core::ErrorLog::Target>* own_error_log() const;
    // ", client: ..., server: ..., request: ..., upstream: ..., host: ..." as nginx.
    void append_error_context(std::string_view upstream, std::string& line) const;
    // Variables that live here: $upstream_http_* of the response being relayed,
    // $sent_http_* of the response sent, $request_id (random, fixed per request),
    // $ssl_* of the TLS session.
    const std::vector<HeaderField>* upstream_headers() const;
    void append_sent_header(std::string_view name, std::string& out);
    void append_request_id(std::string& out);
    void append_tls_variable(conf::BuiltinVar v, std::string& out);

    core::ListHook all_link;   // the worker's connections
    core::ListHook idle_link;  // the worker's idle keep-alive connections, oldest last

  private:
    enum class Phase : uint8_t { handshake, idle, head, body, responding, lingering, closed };
    enum class BodyState : uint8_t { none, reading, done };
    // What the connection waits for from the client, which decides the read timer.
    enum class ReadWait : uint8_t { nothing, header, keepalive, body, discard, linger };

    // connection.cpp
    void handshake();
    void on_readable();
    void on_writable();
    void read_head();
    bool fill_buffer(size_t room, bool& eof);
    void begin_request();
    HeadLimits head_limits() const;
    bool adopt_runtime();
    void on_head_done();
    void set_phase(Phase p);
    void wait_for_client(ReadWait why);
    void finish_request();
    void next_request();
    void linger();
    bool needs_lingering_close() const;
    void close_now();
    void on_read_timeout();
    void on_write_timeout();

    // request_checks.cpp, phases.cpp
    bool validate_head(int& status);
    void route();
    bool select_location();
    int find_location_phase();
    int run_hooks();
    int access_phase();
    void start_content();
    bool redirect_cycle(std::string_view target);

    // respond.cpp
    bool try_error_page(int status);
    void send_simple(int status, std::string_view location, bool close_after);
    bool start_response();
    void fail_request(int status, std::string_view reason);
    void write_access_log();

    // connection_body.cpp
    void read_body();
    void discard_body_spans();
    void discard_body();
    bool chunked_body_too_large();
    void after_body_read();
    bool keep_body_spans();
    // Ends the content session; it is released after this loop iteration because it may
    // be the caller.
    void drop_content();

    HttpWorker& worker_;
    std::shared_ptr<const Runtime> runtime_;
    std::unique_ptr<core::Stream> stream_;
    core::ConnectionSlot slot_;
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
    ContentSessionPtr content_;
    std::string scratch_;  // URI normalisation and other per-request text
    char request_id_[32];
    bool request_id_set_ = false;
    // While add_header values are evaluated: the head written so far (its buffer does
    // not change during an evaluation), which $sent_http_* reads instead of sent_head.
    std::string_view head_so_far_;

    core::Timer read_timer_;
    core::Timer write_timer_;
    Phase phase_ = Phase::head;
    ReadWait read_wait_ = ReadWait::nothing;
    BodyState body_state_ = BodyState::none;
    size_t span_index_ = 0;          // next body span to hand out
    size_t span_offset_ = 0;         // bytes of that span already sent
    bool discard_body_ = false;      // read and drop the body (ferry answered, or errors)
    bool buffering_ = false;         // the body is kept whole (request().body) first
    bool response_started_ = false;  // a response head was queued: no other may start
    bool response_done_ = false;
    bool keepalive_ = true;
    bool quitting_ = false;
    bool continue_sent_ = false;
    bool readable_ = true;  // edge-triggered readiness as last seen
    bool writable_ = true;
    bool peer_closed_ = false;
    int64_t linger_deadline_ = 0;  // lingering_time: the end of dropping the client's bytes
};

}  // namespace ferry::http
