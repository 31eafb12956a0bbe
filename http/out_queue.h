// Bytes waiting to be written to one stream: bytes the queue owns (heads, error pages,
// chunk framing), then at most one span borrowed from whoever produced it (a body
// slice still sitting in the other connection's read buffer). Written with one writev.
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
    void borrow(std::string_view s) { borrowed_ = s; }
    bool drained() const { return own_.empty() && borrowed_.empty(); }
    bool has_borrowed() const { return !borrowed_.empty(); }
    size_t pending() const { return own_.readable_size() + borrowed_.size(); }

    enum class Result : uint8_t { drained, blocked, failed };
    // Writes as much as the stream takes. `written` accumulates bytes written; `err`
    // gets errno on failure. Releases the owned block once empty.
    Result flush(core::Stream& stream, uint64_t& written, int& err);
    // Forgets everything queued (connection closing or reused).
    void clear() {
        own_.release();
        borrowed_ = {};
    }

  private:
    core::Buffer own_;
    std::string_view borrowed_;
};

}  // namespace ferry::http
