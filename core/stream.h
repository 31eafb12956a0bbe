// A connected byte stream: a plain socket now, TLS later. The HTTP layer reads and
// writes through this interface only, so TLS slots in underneath it.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/unique_fd.h"

namespace ferry::core {

enum class Io : uint8_t {
    ok,     // n bytes moved
    again,  // would block: wait for the direction in `want`
    eof,    // orderly end of stream (reads only)
    error,  // err holds errno (or a TLS error mapped to EPROTO)
};

struct IoResult {
    Io status = Io::ok;
    size_t n = 0;
    int err = 0;
    // For `again`: which readiness the stream waits for. A TLS stream may need to
    // write in order to read (renegotiation, handshake), so this is not always the
    // direction of the call.
    bool want_read = false;
    bool want_write = false;
    // For `ok` reads: the socket returned less than asked, so it holds nothing more now
    // and an edge-triggered epoll reports the next bytes (or a FIN that came later). A
    // caller that saw no RDHUP/HUP may wait for the event instead of reading again to
    // get EAGAIN: one system call less per request. TLS reads never set it (a record
    // may end the read early while the socket holds more).
    bool drained = false;

    static IoResult ok_n(size_t n) { return {Io::ok, n, 0, false, false}; }
};

class Stream {
  public:
    virtual ~Stream() = default;

    virtual IoResult read(char* buf, size_t len) = 0;
    virtual IoResult write(const char* buf, size_t len) = 0;
    virtual IoResult writev(const iovec* iov, int count) = 0;
    // Ends our sending direction (TCP FIN / TLS close_notify then FIN).
    virtual void shutdown_write() = 0;
    // True when bytes may move by splice(2) straight on the descriptor (no TLS
    // framing): the tunnel uses it to pick splice or its copy loop.
    virtual bool can_splice() const = 0;
    // True when the stream holds decrypted bytes not yet returned by read(); epoll will
    // not report them, so callers must read again before waiting.
    virtual bool has_pending() const { return false; }
    // TLS handshake progress (plain streams are always established).
    virtual IoResult handshake() { return IoResult::ok_n(0); }

    int fd() const { return fd_.get(); }
    // Gives up the descriptor (e.g. to the splice tunnel) and leaves the stream empty.
    UniqueFd take_fd() { return std::move(fd_); }

  protected:
    explicit Stream(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

class PlainStream final : public Stream {
  public:
    explicit PlainStream(UniqueFd fd) : Stream(std::move(fd)) {}
    IoResult read(char* buf, size_t len) override;
    IoResult write(const char* buf, size_t len) override;
    IoResult writev(const iovec* iov, int count) override;
    void shutdown_write() override;
    bool can_splice() const override { return true; }
};

}  // namespace ferry::core
