// Bytes waiting to be written to one stream: bytes the queue owns (heads, error pages,
// chunk framing), then at most one span borrowed from whoever produced it (a body
// slice still sitting in the other connection's read buffer), then a constant tail for
// that span (a chunk's closing CRLF, so that a chunk goes out whole). Written with one
// writev.
// The producer gives the next borrowed span only once drained() is true, which is how
// back-pressure travels from a slow reader to the reading side.
#pragma once

#include <string_view>

#include "core/buffer.h"
#include "core/stream.h"

namespace ferry::http {

class OutQueue {
  public:
    explicit OutQueue(core::BufferPool* pool) : own_(pool) {}

    core::Buffer& own() { return own_; }
    void append(std::string_view s) { own_.append(s); }
    // `tail` must outlive the queue (a string literal).
    void borrow(std::string_view s, std::string_view tail = {}) {
        borrowed_ = s;
        tail_ = tail;
    }
    bool drained() const { return own_.empty() && borrowed_.empty() && tail_.empty(); }
    bool has_borrowed() const { return !borrowed_.empty(); }
    size_t pending() const { return own_.readable_size() + borrowed_.size() + tail_.size(); }

    enum class Result : uint8_t { drained, blocked, failed };
    // Writes as much as the stream takes. `written` accumulates bytes written; `err`
    // gets errno on failure. Releases the owned block once empty.
    Result flush(core::Stream& stream, uint64_t& written, int& err);
    // Forgets everything queued (connection closing or reused).
    void clear() {
        own_.release();
        borrowed_ = {};
        tail_ = {};
    }

  private:
    core::Buffer own_;
    std::string_view borrowed_;
    std::string_view tail_;
};

}  // namespace ferry::http
