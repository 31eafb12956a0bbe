#include "core/buffer.h"

#include <cstdlib>
#include <utility>

namespace ferry::core {

void Buffer::swap(Buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(cap_, o.cap_);
    std::swap(start_, o.start_);
    std::swap(end_, o.end_);
    std::swap(pool_, o.pool_);
}

void Buffer::compact() {
    if (start_ == 0) return;
    size_t n = end_ - start_;
    if (n) memmove(data_, data_ + start_, n);
    start_ = 0;
    end_ = static_cast<uint32_t>(n);
}

bool Buffer::reserve(size_t n) {
    if (writable_size() >= n) return true;
    if (!data_ && pool_ && n <= pool_->block_size()) {
        BufferPool* pool = pool_;
        *this = pool->get();
        return data_ != nullptr;
    }
    if (start_ > 0 && cap_ - (end_ - start_) >= n) {
        compact();
        return true;
    }
    size_t need = end_ + n;
    size_t cap = cap_ ? cap_ : (pool_ ? pool_->block_size() : 4096);
    while (cap < need)
        cap *= 2;
    if (cap > 0xffffffffu) return false;
    char* block = static_cast<char*>(std::malloc(cap));
    if (!block) return false;
    if (end_) memcpy(block, data_, end_);
    BufferPool* pool = pool_;
    uint32_t start = start_, end = end_;
    release();
    data_ = block;
    cap_ = static_cast<uint32_t>(cap);
    start_ = start;
    end_ = end;
    pool_ = pool;
    if (pool_) ++pool_->out_;
    return true;
}

bool Buffer::append(std::string_view s) {
    if (s.empty()) return true;
    if (!reserve(s.size())) return false;
    memcpy(writable(), s.data(), s.size());
    commit(s.size());
    return true;
}

void Buffer::release() {
    if (data_) {
        if (pool_) {
            pool_->put(data_, cap_);
        } else {
            std::free(data_);
        }
    }
    data_ = nullptr;
    cap_ = start_ = end_ = 0;
}

BufferPool::~BufferPool() {
    for (char* b : free_)
        std::free(b);
}

Buffer BufferPool::get(size_t min_size) {
    Buffer b;
    b.pool_ = this;
    size_t cap = min_size > block_size_ ? min_size : block_size_;
    if (cap == block_size_ && !free_.empty()) {
        b.data_ = free_.back();
        free_.pop_back();
    } else {
        b.data_ = static_cast<char*>(std::malloc(cap));
        if (!b.data_) {
            b.pool_ = nullptr;
            return b;
        }
    }
    b.cap_ = static_cast<uint32_t>(cap);
    ++out_;
    return b;
}

void BufferPool::put(char* block, size_t cap) {
    --out_;
    if (cap == block_size_ && free_.size() < max_free_) {
        free_.push_back(block);
    } else {
        std::free(block);
    }
}

}  // namespace ferry::core
