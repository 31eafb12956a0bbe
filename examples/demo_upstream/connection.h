// One client connection of the demo upstream: HTTP/1.1 with keep-alive and pipelining
// until a request upgrades it to the WebSocket echo, then frames until the close
// handshake. The owner (Server) polls it and destroys it when on_ready() says so.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/unique_fd.h"
#include "examples/demo_upstream/echo_session.h"
#include "examples/demo_upstream/http_request.h"

namespace ferry::demo {

using Clock = std::chrono::steady_clock;

struct Limits {
    size_t max_head = 16 << 10;        // request line and headers
    uint64_t max_body = 1 << 20;       // request bodies are read and discarded
    size_t max_message = 16 << 20;     // one WebSocket message, reassembled
    size_t max_pending_out = 1 << 20;  // stop reading while this much is unsent
    Clock::duration idle_timeout = std::chrono::seconds(60);   // HTTP, or a stuck write
    Clock::duration linger_timeout = std::chrono::seconds(2);  // reading after our close
};

class Connection {
  public:
    Connection(core::UniqueFd fd, const Limits& limits);

    int fd() const { return fd_.get(); }

    // Handles readiness (`events` from epoll). Returns false when the connection is
    // finished and must be destroyed.
    bool on_ready(uint32_t events);

    // The epoll events the connection waits for now.
    uint32_t wanted_events() const;

    // When the connection must be closed if nothing happens (Clock::time_point::max()
    // for none: an open WebSocket may stay idle as long as its peer wishes).
    Clock::time_point deadline() const { return deadline_; }

  private:
    enum class Mode { http, websocket, lingering };
    enum class Io { progress, blocked, eof, error };

    Io read_some();
    Io flush();
    void process();
    void process_http();
    // Answers one parsed request; returns false when the connection must stop reading
    // requests (closing, or upgraded).
    bool answer(const Request& request);
    void refuse(int status);  // answers with an error and closes after writing
    void start_lingering();
    void update_deadline();
    bool wants_read() const;

    Limits limits_;
    core::UniqueFd fd_;
    Mode mode_ = Mode::http;
    std::string in_;   // received bytes not yet consumed
    std::string out_;  // bytes to send, from out_sent_ on
    size_t out_sent_ = 0;
    uint64_t discard_ = 0;  // request body bytes still to skip
    bool close_after_write_ = false;
    bool peer_eof_ = false;
    std::optional<EchoSession> echo_;
    Clock::time_point deadline_;
};

}  // namespace ferry::demo
