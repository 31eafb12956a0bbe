// A request body as ferry keeps it, as nginx does: in memory up to
// client_body_buffer_size, then in a temporary file under client_body_temp_path. The
// file is unlinked as soon as it is created (O_TMPFILE), so it disappears on every path,
// a crash included. What is in memory is also $request_body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace ferry::http {

class RequestBody {
  public:
    // Forgets the body; memory beyond a small size is given back (idle keep-alive
    // connections hold little).
    void clear();

    // Appends body bytes, moving everything to a temporary file in `temp_dir` once
    // more than `memory_limit` bytes are kept. False with `error` set when the file
    // cannot be made or written.
    bool append(std::string_view data, size_t memory_limit, const std::string& temp_dir,
                std::string& error);

    uint64_t size() const { return size_; }
    bool in_file() const { return file_.get() >= 0; }
    // The whole body, when it is in memory.
    std::string_view memory() const { return memory_; }
    // Reads up to `len` bytes at `offset` (from memory or the file). Returns the count,
    // 0 at the end, -1 with errno on a read error.
    long read_at(uint64_t offset, char* buf, size_t len) const;

  private:
    bool spill(const std::string& temp_dir, std::string& error);

    std::string memory_;
    core::UniqueFd file_;
    uint64_t size_ = 0;
};

}  // namespace ferry::http
