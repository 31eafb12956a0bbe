// Chunked transfer coding (RFC 9112 section 7.1) for relaying: an incremental decoder for
// upstream response bodies, with nginx's rules (ngx_http_parse_chunked: CRLF line ends,
// hex sizes up to 2^63-1, extensions skipped, trailers read and dropped), and the pieces
// to write a chunked body to a client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry::http {

class ChunkedDecoder {
  public:
    struct Limits {
        size_t max_size_line = 4096;  // a chunk-size line with its extensions, without CRLF
        size_t max_trailers = 16384;  // the trailer lines and the final CRLF
    };

    enum class Status : uint8_t {
        need_more,  // all of the input was framing: feed more
        data,       // `data` is body bytes (a view into the input)
        done,       // the last chunk and the trailers ended; `consumed` is where the
                    // body ends in this input (bytes after it are not the body's)
        error,      // invalid framing or a limit passed: the body cannot be relayed
    };

    struct Result {
        Status status = Status::need_more;
        size_t consumed = 0;    // bytes of the input used, including `data`
        std::string_view data;  // with Status::data
    };

    ChunkedDecoder() = default;
    explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

    // Decodes the next part of `in`. Call again with the unconsumed rest: a call returns
    // at most one run of data. After done or error, returns the same status and consumes
    // nothing.
    Result decode(std::string_view in);

    bool done() const { return state_ == State::done; }
    // Bytes of the current chunk not yet returned as data.
    uint64_t chunk_remaining() const { return state_ == State::data ? size_ : 0; }

  private:
    enum class State : uint8_t {
        size_first,  // the first hex digit of a chunk size
        size,        // more hex digits, or the end of the size
        extension,   // ";name=value" after the size, skipped
        size_lf,     // the LF ending the size line
        data,        // size_ bytes of data
        data_cr,     // the CRLF after the data
        data_lf,
        trailer_start,  // a trailer line or the final CRLF
        trailer_line,
        trailer_lf,
        final_lf,
        done,
        error,
    };

    bool step(unsigned char c);  // one framing byte; false on an error

    Limits limits_;
    State state_ = State::size_first;
    uint64_t size_ = 0;
    size_t line_length_ = 0;
    size_t trailer_length_ = 0;
};

// The longest chunk header: 16 hex digits and CRLF.
constexpr size_t max_chunk_header_size = 18;
// Writes "<size in hex>\r\n" to `out` (max_chunk_header_size bytes); returns the length.
size_t write_chunk_header(uint64_t size, char* out);
// What follows a chunk's data.
constexpr std::string_view chunk_end = "\r\n";
// The last chunk with no trailers: ends a chunked body.
constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace ferry::http
