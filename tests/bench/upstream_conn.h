// One connection of bench-upstream: HTTP/1.1 keep-alive requests, then possibly a
// WebSocket in one of three modes. Driven by edge-triggered epoll: every event
// calls pump(), which moves bytes both ways until the socket would block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tests/bench/frame_reader.h"

namespace ferry::bench {

enum class ConnKind { http, ws_echo, ws_sink, ws_source };

// Per-thread state shared by the connections of one loop.
struct LoopContext {
    uint8_t* scratch = nullptr;  // read buffer for sink and HTTP input
    size_t scratch_size = 0;
};

class UpstreamConn {
  public:
    explicit UpstreamConn(int fd) : fd_(fd) {}
    ~UpstreamConn();
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;

    // Moves bytes until the socket would block. Returns false when the connection
    // is finished and should be deleted.
    bool pump(LoopContext& ctx);

  private:
    bool pump_echo();
    bool read_into_scratch(LoopContext& ctx, bool& progress);
    void handle_http_input();
    void handle_request(std::string_view head);
    void start_websocket(std::string_view target, std::string_view key);
    void feed_sink(const uint8_t* p, size_t n);
    void echo_transform();
    void compact_echo();
    bool flush_out(bool& progress);
    bool flush_source(bool& progress);
    bool pending_output() const {
        return out_off_ < out_.size() || body_left_ > 0 || source_left_ > 0;
    }

    int fd_;
    ConnKind kind_ = ConnKind::http;
    bool want_close_ = false;  // close once everything queued is written
    bool peer_eof_ = false;
    bool close_sent_ = false;

    // HTTP input not yet parsed, output queued, and the body of a /size/N response.
    std::string in_;
    std::string out_;
    size_t out_off_ = 0;
    uint64_t body_left_ = 0;
    uint64_t body_sent_ = 0;

    // WebSocket input frames (sink) and control frames being collected (both modes).
    FrameReader reader_;
    std::string control_;
    uint64_t sink_bytes_ = 0;

    // Echo: one buffer transformed in place. [sent, out) is output to write,
    // [parse, rd) input not yet parsed; frames shrink by their mask key, so the
    // output never overtakes the input.
    std::unique_ptr<uint8_t[]> echo_;
    size_t e_sent_ = 0, e_out_ = 0, e_parse_ = 0, e_rd_ = 0;
    FrameHeader e_frame_;
    uint64_t e_left_ = 0, e_off_ = 0;
    bool e_in_payload_ = false;

    // Source: frames of source_frame_ bytes until source_left_ payload bytes are sent.
    uint64_t source_left_ = 0;
    uint64_t source_frame_ = 0;
    uint64_t frame_left_ = 0, frame_len_ = 0;
    uint8_t frame_header_[max_header_size] = {};
    size_t frame_header_size_ = 0, frame_header_sent_ = 0;
};

}  // namespace ferry::bench
