#include "examples/demo_upstream/http_response.h"

#include <ctime>

namespace ferry::demo {

namespace {

// The current time as an HTTP-date (RFC 9110 section 5.6.7).
std::string http_date() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[64];
    size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(text, n);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

}  // namespace

std::string_view reason_phrase(int status) {
    switch (status) {
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 426:
            return "Upgrade Required";
        case 431:
            return "Request Header Fields Too Large";
        case 501:
            return "Not Implemented";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

Response plain_response(int status, bool keep_alive) {
    Response r;
    r.status = status;
    r.body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
    r.keep_alive = keep_alive;
    return r;
}

void append_response(std::string& out, const Response& r) {
    out += "HTTP/1.1 ";
    out += std::to_string(r.status);
    out += ' ';
    out += reason_phrase(r.status);
    out += "\r\n";
    append_header(out, "Server", "ferry-demo-upstream");
    append_header(out, "Date", http_date());
    for (const auto& [name, value] : r.headers)
        append_header(out, name, value);
    if (r.status == 101) {
        append_header(out, "Connection", "Upgrade");
        out += "\r\n";
        return;
    }
    append_header(out, "Content-Type", r.content_type);
    append_header(out, "Content-Length", std::to_string(r.body.size()));
    std::string connection = r.lists_upgrade ? "Upgrade, " : "";
    connection += r.keep_alive ? "keep-alive" : "close";
    append_header(out, "Connection", connection);
    out += "\r\n";
    if (!r.head_only) out += r.body;
}

}  // namespace ferry::demo
