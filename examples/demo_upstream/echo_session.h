// The server side of one WebSocket connection on /ws/echo: it checks every client frame
// as RFC 6455 requires, answers pings, completes the close handshake, and echoes each
// text or binary message (reassembled from its fragments) back as one frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "examples/demo_upstream/websocket.h"

namespace ferry::demo {

class EchoSession {
  public:
    explicit EchoSession(size_t max_message) : max_message_(max_message) {}

    // Consumes the complete frames at the front of `in` and appends the replies to `out`.
    // Returns the number of bytes consumed; the rest (a partial frame) is left for the
    // next call. Once closed() is true, nothing more is consumed.
    size_t consume(std::string_view in, std::string& out);

    // True once the session has sent its close frame: the connection should flush its
    // output and end.
    bool closed() const { return closed_; }

  private:
    // Checks a frame header; on a violation sends the close frame and returns false.
    bool check(const FrameHeader& frame, std::string& out);
    void on_frame(const FrameHeader& frame, std::string_view payload, std::string& out);
    void on_close(std::string_view data, std::string& out);
    void on_data(const FrameHeader& frame, std::string_view payload, std::string& out);
    void fail(std::string& out, uint16_t code, std::string_view reason);

    size_t max_message_;
    std::string message_;         // the fragments so far of a fragmented message
    uint8_t message_opcode_ = 0;  // text or binary while a fragmented message is open
    bool closed_ = false;
};

}  // namespace ferry::demo
