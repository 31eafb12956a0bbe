#include "http/out_queue.h"

#include <sys/uio.h>

namespace ferry::http {

OutQueue::Result OutQueue::flush(core::Stream& stream, uint64_t& written, int& err) {
    while (!drained()) {
        iovec iov[3];
        int n = 0;
        if (!own_.empty()) {
            iov[n++] = {const_cast<char*>(own_.readable()), own_.readable_size()};
        }
        if (!borrowed_.empty()) {
            iov[n++] = {const_cast<char*>(borrowed_.data()), borrowed_.size()};
        }
        if (!tail_.empty()) iov[n++] = {const_cast<char*>(tail_.data()), tail_.size()};
        core::IoResult r =
            n == 1 ? stream.write(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len)
                   : stream.writev(iov, n);
        if (r.status == core::Io::again) return Result::blocked;
        if (r.status != core::Io::ok) {
            err = r.err;
            return Result::failed;
        }
        written += r.n;
        size_t left = r.n;
        size_t from_own = left < own_.readable_size() ? left : own_.readable_size();
        own_.consume(from_own);
        left -= from_own;
        size_t from_borrowed = left < borrowed_.size() ? left : borrowed_.size();
        borrowed_.remove_prefix(from_borrowed);
        tail_.remove_prefix(left - from_borrowed);
    }
    own_.release();
    return Result::drained;
}

}  // namespace ferry::http
