#include "tunnel/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace ferry::tunnel {

PipePool::PipePool(size_t pipe_size, size_t max_free)
    : pipe_size_(pipe_size), max_free_(max_free) {}

Pipe PipePool::acquire() {
    if (!free_.empty()) {
        Pipe p = std::move(free_.back());
        free_.pop_back();
        ++in_use_;
        return p;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
    Pipe p;
    p.read_end.reset(fds[0]);
    p.write_end.reset(fds[1]);
    int granted = -1;
    if (pipe_size_) granted = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
    // Over the per-user pipe budget the kernel refuses a larger size: keep the default.
    if (granted < 0) granted = fcntl(fds[1], F_GETPIPE_SZ);
    p.capacity = granted > 0 ? static_cast<size_t>(granted) : 65536;
    ++created_;
    ++in_use_;
    return p;
}

void PipePool::release(Pipe&& pipe) {
    if (!pipe) return;
    --in_use_;
    if (pipe.bytes == 0 && free_.size() < max_free_) {
        free_.push_back(std::move(pipe));
    }
    pipe = Pipe{};  // a dirty pipe (or one over the cap) closes here
}

}  // namespace ferry::tunnel
