// RFC 6455 framing for the benchmark tools: frame headers, masking, the handshake's
// accept key. Payloads are never buffered whole here; callers stream them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::bench {

enum Opcode : uint8_t {
    op_continuation = 0x0,
    op_text = 0x1,
    op_binary = 0x2,
    op_close = 0x8,
    op_ping = 0x9,
    op_pong = 0xA,
};

// The largest header: 2 bytes, 8 bytes of extended length, 4 of mask key.
constexpr size_t max_header_size = 14;

struct FrameHeader {
    uint8_t opcode = 0;
    bool fin = true;
    bool masked = false;
    uint8_t mask[4] = {0, 0, 0, 0};
    uint64_t length = 0;
    size_t header_size = 0;
};

// Writes a frame header to `out` (room for max_header_size bytes); `mask` is null for
// an unmasked (server) frame. Returns the header's size.
size_t encode_header(uint8_t* out, uint8_t opcode, uint64_t length, bool fin, const uint8_t* mask);

// Parses a header from [p, p+n). Returns 1 when `h` is filled, 0 when more bytes are
// needed, -1 for a malformed header (reserved bits, oversized control frame).
int parse_header(const uint8_t* p, size_t n, FrameHeader& h);

// XORs `data` with `mask`, where data[0] is the payload byte at `offset`: lets a
// payload be unmasked in pieces as it arrives.
void apply_mask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string accept_key(std::string_view key);

// Case-insensitive search for a header's value in a block of request or response
// headers ("Name: value\r\n" lines); empty when absent.
std::string_view find_header(std::string_view headers, std::string_view name);

}  // namespace ferry::bench
