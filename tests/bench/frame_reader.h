// Streams incoming WebSocket frames: headers are assembled across reads, payloads
// are handed out in whatever pieces arrive, never buffered here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tests/bench/ws_frame.h"

namespace ferry::bench {

class FrameReader {
  public:
    enum Event { need_more, header, payload, frame_end, error };

    // The current frame's header (valid from `header` to `frame_end`).
    const FrameHeader& frame() const { return frame_; }

    // Payload bytes handed out by the last `payload` event: data, size, and the
    // offset of data[0] within the frame's payload.
    const uint8_t* chunk = nullptr;
    size_t chunk_size = 0;
    uint64_t chunk_offset = 0;

    // Consumes bytes from [p, end) up to the next event and returns it. Call again
    // until it returns need_more (all of [p, end) consumed) or error.
    Event next(const uint8_t*& p, const uint8_t* end) {
        if (in_payload_) {
            if (left_ == 0) {
                in_payload_ = false;
                return frame_end;
            }
            if (p == end) return need_more;
            size_t n = size_t(std::min<uint64_t>(left_, uint64_t(end - p)));
            chunk = p;
            chunk_size = n;
            chunk_offset = frame_.length - left_;
            p += n;
            left_ -= n;
            return payload;
        }
        for (;;) {
            int r = parse_header(header_, header_size_, frame_);
            if (r < 0) return error;
            if (r > 0) {
                header_size_ = 0;
                in_payload_ = true;
                left_ = frame_.length;
                return header;
            }
            if (p == end) return need_more;
            // Headers are at most 14 bytes: copy what this header can still need.
            size_t n = std::min<size_t>(size_t(end - p), header_need());
            std::copy(p, p + n, header_ + header_size_);
            header_size_ += n;
            p += n;
        }
    }

  private:
    // Bytes that can be copied without reading past the header: at least one, and
    // never more than the smallest header still possible for what is known.
    size_t header_need() const {
        if (header_size_ < 2) return 2 - header_size_;
        size_t len7 = header_[1] & 0x7f;
        size_t full = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
        return full - header_size_;
    }

    uint8_t header_[max_header_size] = {};
    size_t header_size_ = 0;
    FrameHeader frame_;
    bool in_payload_ = false;
    uint64_t left_ = 0;
};

}  // namespace ferry::bench
