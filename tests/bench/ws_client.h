// bench-ws: the benchmark's WebSocket load client. Each mode is one function; they
// share the handshake, the masked frame template and the result line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/bench/client_conn.h"
#include "tests/bench/ws_frame.h"

namespace ferry::bench {

struct WsTarget {
    std::string host;
    uint16_t port = 0;
    std::string prefix;      // path prefix of the upstream's endpoints, e.g. "/ws"
    SSL_CTX* tls = nullptr;  // wss:// when set
};

// The fixed mask key of every client frame: the payload is masked once, up front,
// so masking costs the client nothing per byte.
inline constexpr uint8_t client_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

// The request of an opening handshake for `path` (fixed Sec-WebSocket-Key).
std::string handshake_request(const WsTarget& t, const std::string& path);

// Checks a handshake response head (up to and including the blank line): status 101
// and the right Sec-WebSocket-Accept. Returns an empty string or what is wrong.
std::string check_handshake_response(std::string_view head);

// Connects (blocking; with TLS when t.tls is set), performs the handshake; returns the
// connection and puts any bytes received after the response head into `leftover`.
// Exits on failure.
Conn open_websocket(const WsTarget& t, const std::string& path, std::string& leftover);

// One masked frame: header followed by `payload_size` bytes of the pattern, masked.
std::vector<uint8_t> masked_frame(uint8_t opcode, size_t payload_size);

// Writes a masked 8-byte sequence number into a masked frame's payload start.
void set_masked_sequence(uint8_t* payload, uint64_t seq);

// Sends a close frame and reads until the peer's close arrives (data frames are
// discarded). `leftover` holds bytes already read.
void close_websocket(Conn& c, std::string leftover);

// Prints "result mode=... key=value ..." (the line bench/run parses) on stdout.
void print_result(const std::string& fields);

int run_oneway(const WsTarget& t, const std::string& direction, uint64_t bytes, uint64_t frame);
int run_echo(const WsTarget& t, uint64_t bytes, uint64_t frame, uint64_t window);
int run_rtt(const WsTarget& t, uint64_t size, uint64_t samples, uint64_t warmup);
int run_idle(const WsTarget& t, uint64_t count, uint64_t parallel, double hold_seconds);

}  // namespace ferry::bench
