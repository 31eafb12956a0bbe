#include "core/stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ferry::core {

namespace {
IoResult from_syscall(ssize_t r, bool reading) {
    if (r > 0) return IoResult::ok_n(static_cast<size_t>(r));
    if (r == 0) return reading ? IoResult{Io::eof, 0, 0, false, false} : IoResult::ok_n(0);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return {Io::again, 0, 0, reading, !reading};
    }
    return {Io::error, 0, errno, false, false};
}
}  // namespace

IoResult PlainStream::read(char* buf, size_t len) {
    ssize_t r;
    do {
        r = ::recv(fd_.get(), buf, len, 0);
    } while (r < 0 && errno == EINTR);
    IoResult result = from_syscall(r, true);
    result.drained = r > 0 && static_cast<size_t>(r) < len;
    return result;
}

IoResult PlainStream::write(const char* buf, size_t len) {
    ssize_t r;
    do {
        r = ::send(fd_.get(), buf, len, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return from_syscall(r, false);
}

IoResult PlainStream::writev(const iovec* iov, int count) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t r;
    do {
        r = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return from_syscall(r, false);
}

void PlainStream::shutdown_write() {
    ::shutdown(fd_.get(), SHUT_WR);
}

}  // namespace ferry::core
