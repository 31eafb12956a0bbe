#include "core/buffer.h"

#include <catch2/catch.hpp>

using ferry::core::Buffer;
using ferry::core::BufferPool;

TEST_CASE("a buffer tracks readable and writable regions", "[core][buffer]") {
    BufferPool pool(64, 4);
    Buffer b = pool.get();
    REQUIRE(b.capacity() == 64);
    memcpy(b.writable(), "hello world", 11);
    b.commit(11);
    CHECK(b.view() == "hello world");
    b.consume(6);
    CHECK(b.view() == "world");
    CHECK(b.start() == 6);
    b.compact();
    CHECK(b.start() == 0);
    CHECK(b.view() == "world");
    b.consume(5);
    CHECK(b.empty());
    CHECK(b.start() == 0);  // fully consumed resets to the front
}

TEST_CASE("reserve grows past the block and keeps offsets", "[core][buffer]") {
    BufferPool pool(16, 4);
    Buffer b = pool.get();
    b.append("0123456789");
    REQUIRE(b.reserve(100));
    CHECK(b.capacity() >= 110);
    CHECK(b.view() == "0123456789");
    CHECK(b.start() == 0);
}

TEST_CASE("blocks return to the pool up to its cap", "[core][buffer]") {
    BufferPool pool(32, 2);
    {
        Buffer a = pool.get(), b = pool.get(), c = pool.get();
        CHECK(pool.blocks_out() == 3);
    }
    CHECK(pool.blocks_out() == 0);
    CHECK(pool.free_blocks() == 2);  // the third was freed
    Buffer d = pool.get();
    CHECK(pool.free_blocks() == 1);
}

TEST_CASE("an empty buffer bound to a pool takes a block lazily", "[core][buffer]") {
    BufferPool pool(32, 2);
    Buffer b(&pool);
    CHECK_FALSE(b.allocated());
    REQUIRE(b.append("abc"));
    CHECK(b.allocated());
    CHECK(pool.blocks_out() == 1);
    b.release();
    CHECK_FALSE(b.allocated());
    CHECK(pool.blocks_out() == 0);
    REQUIRE(b.append("again"));  // still bound to its pool
    CHECK(pool.blocks_out() == 1);
}
