#include "http/request_body.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/socket.h"

namespace ferry::http {

namespace {

constexpr size_t kKeptCapacity = 4096;

// Writes all of `data` at the end of `fd`.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

}  // namespace

void RequestBody::clear() {
    file_.reset();
    size_ = 0;
    if (memory_.capacity() > kKeptCapacity) {
        std::string().swap(memory_);
    } else {
        memory_.clear();
    }
}

bool RequestBody::append(std::string_view data, size_t memory_limit, const std::string& temp_dir,
                         std::string& error) {
    if (data.empty()) return true;
    if (!in_file() && memory_.size() + data.size() > memory_limit && !spill(temp_dir, error)) {
        return false;
    }
    if (in_file()) {
        if (!write_all(file_.get(), data)) {
            error = fmt::format("write() to a temporary file failed {}", core::errno_text(errno));
            return false;
        }
    } else {
        memory_.append(data);
    }
    size_ += data.size();
    return true;
}

// Moves what is in memory into a new temporary file. The directory is made when
// missing, as nginx makes its temp paths at start.
bool RequestBody::spill(const std::string& temp_dir, std::string& error) {
    int fd = ::open(temp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        ::mkdir(temp_dir.c_str(), 0700);
        fd = ::open(temp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        error = fmt::format("open() \"{}\" failed {}", temp_dir, core::errno_text(errno));
        return false;
    }
    file_.reset(fd);
    if (!write_all(fd, memory_)) {
        error = fmt::format("write() to a temporary file failed {}", core::errno_text(errno));
        file_.reset();
        return false;
    }
    std::string().swap(memory_);
    return true;
}

long RequestBody::read_at(uint64_t offset, char* buf, size_t len) const {
    if (offset >= size_) return 0;
    size_t n = len < size_ - offset ? len : static_cast<size_t>(size_ - offset);
    if (!in_file()) {
        memory_.copy(buf, n, static_cast<size_t>(offset));
        return static_cast<long>(n);
    }
    for (;;) {
        ssize_t r = ::pread(file_.get(), buf, n, static_cast<off_t>(offset));
        if (r >= 0 || errno != EINTR) return static_cast<long>(r);
    }
}

}  // namespace ferry::http
