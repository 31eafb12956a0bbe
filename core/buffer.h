// Byte buffers from a per-worker pool.
//
//   +-----------------+------------------+------------------+
//   | consumed bytes  | readable bytes   | writable bytes   |
//   +-----------------+------------------+------------------+
//   0             start()            end()          capacity()
//
// A connection holds a buffer only while it has bytes to keep: an idle keep-alive
// connection or tunnel holds none. Blocks of the pool's standard size are recycled
// through a capped free list; larger blocks (big request heads) come from the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace ferry::core {

class BufferPool;

class Buffer {
  public:
    Buffer() = default;
    // An empty buffer that takes a block from `pool` when it first needs room.
    explicit Buffer(BufferPool* pool) : pool_(pool) {}
    ~Buffer() { release(); }
    Buffer(Buffer&& o) noexcept { swap(o); }
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) {
            release();
            swap(o);
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    bool allocated() const { return data_ != nullptr; }
    char* data() { return data_; }
    const char* data() const { return data_; }
    size_t capacity() const { return cap_; }
    size_t start() const { return start_; }
    size_t end() const { return end_; }

    const char* readable() const { return data_ + start_; }
    size_t readable_size() const { return end_ - start_; }
    bool empty() const { return start_ == end_; }
    std::string_view view() const { return {data_ + start_, end_ - start_}; }

    char* writable() { return data_ + end_; }
    size_t writable_size() const { return cap_ - end_; }

    void commit(size_t n) { end_ += n; }  // after writing n bytes at writable()
    void consume(size_t n) {              // after using n readable bytes
        start_ += n;
        if (start_ == end_) start_ = end_ = 0;
    }
    void clear() { start_ = end_ = 0; }
    // Moves readable bytes to the front so that writable_size() is maximal.
    void compact();
    // Appends bytes, growing if needed. Returns false if it cannot grow.
    bool append(std::string_view s);
    // Makes room for at least `n` more writable bytes (compacting or growing into a
    // larger block; readable bytes keep their offset from start()).
    bool reserve(size_t n);
    // Returns the block to its pool (or the heap); the buffer stays bound to the pool.
    void release();

  private:
    friend class BufferPool;
    void swap(Buffer& o) noexcept;
    char* data_ = nullptr;
    uint32_t cap_ = 0;
    uint32_t start_ = 0;
    uint32_t end_ = 0;
    BufferPool* pool_ = nullptr;
};

class BufferPool {
  public:
    explicit BufferPool(size_t block_size = 16 * 1024, size_t max_free = 256)
        : block_size_(block_size), max_free_(max_free) {}
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A buffer of at least `min_size` bytes (the standard block when it fits).
    Buffer get(size_t min_size = 0);
    size_t block_size() const { return block_size_; }
    size_t free_blocks() const { return free_.size(); }
    size_t blocks_out() const { return out_; }

  private:
    friend class Buffer;
    void put(char* block, size_t cap);
    size_t block_size_;
    size_t max_free_;
    size_t out_ = 0;
    std::vector<char*> free_;
};

}  // namespace ferry::core
