#include "http/response.h"

#include <charconv>

#include "http/status.h"

namespace ferry::http {

std::string_view server_header() {
    return "ferry";
}

void append_number(core::Buffer& out, uint64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec;
    out.append(std::string_view(buf, static_cast<size_t>(end - buf)));
}

void write_status_line(core::Buffer& out, int code) {
    std::string_view line = status_line(code);
    if (!line.empty()) {
        out.append(line);
        return;
    }
    out.append("HTTP/1.1 ");
    append_number(out, static_cast<uint64_t>(code));
    out.append(" ");
    out.append(reason_phrase(code));
    out.append("\r\n");
}

void write_simple_head(core::Buffer& out, const SimpleResponse& r, std::string_view date,
                       const std::function<void(core::Buffer&)>& extra) {
    write_status_line(out, r.status);
    out.append("Server: ");
    out.append(server_header());
    out.append("\r\nDate: ");
    out.append(date);
    out.append("\r\n");
    if (!r.content_type.empty()) {
        out.append("Content-Type: ");
        out.append(r.content_type);
        out.append("\r\n");
    }
    if (r.content_length >= 0) {
        out.append("Content-Length: ");
        append_number(out, static_cast<uint64_t>(r.content_length));
        out.append("\r\n");
    }
    if (!r.location.empty()) {
        out.append("Location: ");
        out.append(r.location);
        out.append("\r\n");
    }
    if (extra) extra(out);
    if (!r.keep_alive) {
        out.append("Connection: close\r\n\r\n");
    } else {
        out.append("Connection: keep-alive\r\n\r\n");
    }
}

}  // namespace ferry::http
