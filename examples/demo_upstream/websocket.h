// RFC 6455 building blocks for the demo's echo endpoint: the handshake's accept key,
// frame headers, unmasking, frame encoding, and the checks a server must make on what
// a client sends (UTF-8 text, close codes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::demo {

namespace opcode {
inline constexpr uint8_t continuation = 0x0;
inline constexpr uint8_t text = 0x1;
inline constexpr uint8_t binary = 0x2;
inline constexpr uint8_t close = 0x8;
inline constexpr uint8_t ping = 0x9;
inline constexpr uint8_t pong = 0xA;
}  // namespace opcode

// Close status codes the server itself sends (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t too_big = 1009;
}  // namespace close_code

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

// True when `key` is what RFC 6455 asks for: base64 of 16 bytes (24 characters).
bool valid_client_key(std::string_view key);

struct FrameHeader {
    bool fin = false;
    uint8_t rsv = 0;  // the three reserved bits; no extension is negotiated, so 0
    uint8_t opcode = 0;
    bool masked = false;
    uint8_t mask[4] = {0, 0, 0, 0};
    uint64_t length = 0;     // payload length
    size_t header_size = 0;  // bytes before the payload
};

enum class HeaderParse { incomplete, ok, bad_length };

// Reads a frame header from the start of `in`. `bad_length` means a 64-bit length with
// its most significant bit set, which RFC 6455 forbids.
HeaderParse parse_frame_header(std::string_view in, FrameHeader& out);

// Appends `masked` XOR-ed with the 4-byte `mask` (the client's masking) to `out`.
void append_unmasked(std::string_view masked, const uint8_t (&mask)[4], std::string& out);

// Appends the header of one unmasked, final frame with a `length`-byte payload.
void append_frame_header(std::string& out, uint8_t opcode, uint64_t length);

// Appends one unmasked, final frame (as a server sends) carrying `payload` to `out`.
void append_frame(std::string& out, uint8_t opcode, std::string_view payload);

// Appends a close frame with `code` and an optional UTF-8 `reason` (<= 123 bytes).
void append_close_frame(std::string& out, uint16_t code, std::string_view reason = {});

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
bool valid_utf8(std::string_view text);

// True when a peer may send `code` in a close frame (RFC 6455 section 7.4).
bool valid_close_code(uint16_t code);

}  // namespace ferry::demo
