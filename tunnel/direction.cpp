#include "tunnel/direction.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace ferry::tunnel {

void Direction::set_leftover(std::string bytes) {
    leftover_len_ = static_cast<uint32_t>(bytes.size());
    leftover_off_ = 0;
    if (bytes.empty()) return;
    leftover_ = std::make_unique<char[]>(bytes.size());
    memcpy(leftover_.get(), bytes.data(), bytes.size());
}

Direction::Flush Direction::flush_leftover() {
    while (leftover_off_ < leftover_len_) {
        if (!dst_.writable) return Flush::blocked;
        core::IoResult r =
            dst_.stream->write(leftover_.get() + leftover_off_, leftover_len_ - leftover_off_);
        if (r.status == core::Io::again) {
            dst_.writable = false;
            return Flush::blocked;
        }
        if (r.status != core::Io::ok) {
            err_ = r.err;
            return Flush::failed;
        }
        leftover_off_ += static_cast<uint32_t>(r.n);
        written_ += r.n;
    }
    if (leftover_) {
        leftover_.reset();  // give the memory back
        leftover_len_ = leftover_off_ = 0;
    }
    return Flush::drained;
}

Direction::Flush Direction::flush_buffer() {
    while (!buf_.empty()) {
        if (!dst_.writable) return Flush::blocked;
        core::IoResult r = dst_.stream->write(buf_.readable(), buf_.readable_size());
        if (r.status == core::Io::again) {
            dst_.writable = false;
            return Flush::blocked;
        }
        if (r.status != core::Io::ok) {
            err_ = r.err;
            return Flush::failed;
        }
        buf_.consume(r.n);
        written_ += r.n;
    }
    return Flush::drained;
}

Direction::Flush Direction::flush_pipe() {
    while (pipe_.bytes) {
        if (!dst_.writable) return Flush::blocked;
        ssize_t n = splice(pipe_.read_end.get(), nullptr, dst_.stream->fd(), nullptr, pipe_.bytes,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            pipe_.bytes -= static_cast<size_t>(n);
            written_ += static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            dst_.writable = false;
            return Flush::blocked;
        }
        err_ = n < 0 ? errno : EPIPE;
        return Flush::failed;
    }
    return Flush::drained;
}

Pump Direction::fill_pipe(PipePool& pipes) {
    if (!pipe_) {
        pipe_ = pipes.acquire();
        if (!pipe_) return Pump::yielded;  // no pipe (EMFILE): caller copies instead
    }
    // The pipe is empty here (flushed first), so EAGAIN can only mean "source empty",
    // never "pipe full".
    for (;;) {
        ssize_t n = splice(src_.stream->fd(), nullptr, pipe_.write_end.get(), nullptr,
                           pipe_.capacity, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            pipe_.bytes += static_cast<size_t>(n);
            read_ += static_cast<uint64_t>(n);
            return Pump::yielded;
        }
        if (n == 0) {
            src_.read_eof = true;
            return Pump::idle;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            src_.readable = false;
            return Pump::idle;
        }
        err_ = errno;
        return Pump::src_error;
    }
}

Pump Direction::fill_buffer(core::BufferPool& buffers) {
    if (!buf_.allocated()) {
        buf_ = buffers.get();
        if (!buf_.allocated()) {
            err_ = ENOMEM;
            return Pump::src_error;
        }
    }
    core::IoResult r = src_.stream->read(buf_.writable(), buf_.writable_size());
    switch (r.status) {
        case core::Io::ok:
            buf_.commit(r.n);
            read_ += r.n;
            return Pump::yielded;
        case core::Io::eof:
            src_.read_eof = true;
            return Pump::idle;
        case core::Io::again:
            src_.readable = false;
            return Pump::idle;
        case core::Io::error:
            break;
    }
    err_ = r.err;
    return Pump::src_error;
}

Pump Direction::fill(PipePool& pipes, core::BufferPool& buffers, bool use_splice) {
    if (use_splice) {
        Pump p = fill_pipe(pipes);
        if (p != Pump::yielded || pipe_) return p;
        // No pipe could be had: copy this round instead of stalling.
    }
    return fill_buffer(buffers);
}

Pump Direction::pump(PipePool& pipes, core::BufferPool& buffers, bool use_splice, size_t budget) {
    if (finished_) return Pump::finished;
    uint64_t start = written_;
    for (;;) {
        Flush f = flush_leftover();
        if (f == Flush::drained) f = flush_buffer();
        if (f == Flush::drained) f = flush_pipe();
        if (f == Flush::failed) return Pump::dst_error;
        if (f == Flush::blocked) return read_ahead() ? Pump::blocked : Pump::src_error;

        if (src_.read_eof) {
            release(pipes);
            if (!dst_.write_shut) {
                dst_.stream->shutdown_write();
                dst_.write_shut = true;
            }
            finished_ = true;
            return Pump::finished;
        }
        if (!src_.readable && !src_.stream->has_pending()) {
            release(pipes);  // nothing in flight: an idle tunnel holds no pipe or buffer
            return Pump::idle;
        }
        if (written_ - start >= budget) return Pump::yielded;

        Pump p = fill(pipes, buffers, use_splice);
        if (p == Pump::src_error) return p;
        // idle (EAGAIN or EOF noted) and yielded (bytes to flush) both loop back
    }
}

// The destination is full and only the pipe holds bytes for it: keep taking bytes from
// the source while the pipe has room, so the sender goes on and the destination is
// refilled the moment it drains. Order is kept (the pipe is a FIFO). False on a source
// error.
bool Direction::read_ahead() {
    if (!pipe_ || leftover_ || !buf_.empty() || src_.read_eof || !src_.readable) return true;
    while (pipe_.bytes < pipe_.capacity) {
        ssize_t n = splice(src_.stream->fd(), nullptr, pipe_.write_end.get(), nullptr,
                           pipe_.capacity - pipe_.bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            pipe_.bytes += static_cast<size_t>(n);
            read_ += static_cast<uint64_t>(n);
            continue;
        }
        if (n == 0) {
            src_.read_eof = true;
            return true;
        }
        if (errno == EINTR) continue;
        // EAGAIN here may mean "pipe full" (its slots hold partial pages) rather than
        // "source empty": leave the source readable; the next pump tries again.
        if (errno == EAGAIN) return true;
        err_ = errno;
        return false;
    }
    return true;
}

void Direction::release(PipePool& pipes) {
    pipes.release(std::move(pipe_));
    buf_.release();
}

}  // namespace ferry::tunnel
