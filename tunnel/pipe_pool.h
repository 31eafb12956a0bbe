// Per-worker pool of pipes for splice(2). A tunnel direction takes a pipe when bytes
// must move and gives it back as soon as the pipe is drained, so an idle tunnel holds
// none. The free list is capped; a pipe that still holds bytes is never reused.
// Only the owning worker's thread touches a pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/unique_fd.h"

namespace ferry::tunnel {

struct Pipe {
    core::UniqueFd read_end;
    core::UniqueFd write_end;
    size_t bytes = 0;     // spliced in, not yet spliced out
    size_t capacity = 0;  // what the kernel granted

    explicit operator bool() const { return static_cast<bool>(read_end); }
};

class PipePool {
  public:
    // `pipe_size`: F_SETPIPE_SZ request (0 keeps the kernel default); `max_free`: how
    // many drained pipes to keep for reuse.
    explicit PipePool(size_t pipe_size = 256 * 1024, size_t max_free = 64);
    ~PipePool() = default;
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    // A drained pipe, or an empty Pipe (errno set) when none can be made.
    Pipe acquire();
    // Takes a pipe back: kept if drained and there is room, closed otherwise.
    void release(Pipe&& pipe);

    size_t free_count() const { return free_.size(); }
    size_t in_use() const { return in_use_; }
    size_t created() const { return created_; }

  private:
    size_t pipe_size_;
    size_t max_free_;
    size_t in_use_ = 0;
    size_t created_ = 0;
    std::vector<Pipe> free_;
};

}  // namespace ferry::tunnel
