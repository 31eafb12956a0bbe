// Writing response heads that ferry composes itself (return, error pages, redirects).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/buffer.h"

namespace ferry::http {

struct SimpleResponse {
    int status = 200;
    std::string_view content_type;  // "" = none
    int64_t content_length = -1;    // -1 = none
    std::string_view location;      // "" = none
    bool keep_alive = true;
    uint8_t http_minor = 1;  // the client's version decides the Connection header
};

// Appends the status line and headers (Server, Date, Content-Type, Content-Length,
// Location, then what `extra` appends, then Connection) and the blank line.
void write_simple_head(core::Buffer& out, const SimpleResponse& r, std::string_view date,
                       const std::function<void(core::Buffer&)>& extra = {});

// Appends "HTTP/1.1 <code> <reason>\r\n".
void write_status_line(core::Buffer& out, int code);

// Appends a decimal number.
void append_number(core::Buffer& out, uint64_t n);

// The value of the Server header ferry sends.
std::string_view server_header();

}  // namespace ferry::http
