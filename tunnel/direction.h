// One direction of a tunnel: bytes from a source stream to a destination stream.
// Userspace leftovers go first; then, on plain sockets, splice(2) through a pooled pipe,
// or with TLS on either side, a copy through a pooled buffer. Pipe and buffer are held
// only while bytes are in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/buffer.h"
#include "core/stream.h"
#include "tunnel/pipe_pool.h"

namespace ferry::tunnel {

// One end of the tunnel with its edge-triggered readiness.
struct Side {
    core::Stream* stream = nullptr;
    bool readable = true;  // until a read says EAGAIN
    bool writable = true;  // until a write says EAGAIN
    bool read_eof = false;
    bool write_shut = false;
};

enum class Pump : uint8_t {
    idle,       // nothing to move until the source is readable
    blocked,    // bytes wait for the destination to become writable
    yielded,    // moved its budget; call again soon
    finished,   // source ended and the end was passed on (shutdown of destination)
    src_error,  // the source failed (err set)
    dst_error,  // the destination failed (err set)
};

class Direction {
  public:
    Direction(Side& src, Side& dst) : src_(src), dst_(dst) {}

    void set_leftover(std::string bytes);
    // Moves bytes until it would block, finishes, fails or spends `budget` bytes.
    Pump pump(PipePool& pipes, core::BufferPool& buffers, bool use_splice, size_t budget);
    // Drops pipe and buffer (tunnel closing).
    void release(PipePool& pipes);

    uint64_t bytes_read() const { return read_; }
    uint64_t bytes_written() const { return written_; }
    bool finished() const { return finished_; }
    bool holds_pipe() const { return static_cast<bool>(pipe_); }
    int error() const { return err_; }

  private:
    enum class Flush : uint8_t { drained, blocked, failed };
    Flush flush_leftover();
    Flush flush_buffer();
    Flush flush_pipe();
    Pump fill(PipePool& pipes, core::BufferPool& buffers, bool use_splice);
    Pump fill_pipe(PipePool& pipes);
    Pump fill_buffer(core::BufferPool& buffers);
    bool read_ahead();

    Side& src_;
    Side& dst_;
    // Bytes already in userspace when the tunnel started; freed once written.
    std::unique_ptr<char[]> leftover_;
    uint32_t leftover_len_ = 0;
    uint32_t leftover_off_ = 0;
    Pipe pipe_;
    core::Buffer buf_;
    uint64_t read_ = 0;
    uint64_t written_ = 0;
    int err_ = 0;
    bool finished_ = false;
};

}  // namespace ferry::tunnel
