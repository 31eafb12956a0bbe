// The bytes every tool sends as payload: 1 MiB of a fixed pseudo-random sequence, so
// that a receiver can check what it got and nothing compresses or repeats trivially.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::bench {

constexpr size_t pattern_size = 1 << 20;

inline const uint8_t* pattern() {
    static const uint8_t* bytes = [] {
        auto* p = new uint8_t[pattern_size];
        uint32_t x = 2463534242u;  // xorshift32
        for (size_t i = 0; i < pattern_size; ++i) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[i] = uint8_t(x);
        }
        return p;
    }();
    return bytes;
}

}  // namespace ferry::bench
