// Serializes the demo upstream's HTTP/1.1 responses.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::demo {

struct Response {
    int status = 200;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string body;
    // Headers besides Date, Server, Content-Type, Content-Length and Connection.
    std::vector<std::pair<std::string_view, std::string>> headers;
    bool keep_alive = true;      // ignored for 101, whose Connection is "upgrade"
    bool head_only = false;      // a HEAD request: every header, no body
    bool lists_upgrade = false;  // an Upgrade header is among `headers` (426)
};

// A response with a short plain-text body naming the status, e.g. "404 Not Found\n".
Response plain_response(int status, bool keep_alive);

// Appends `response` to `out`: status line, headers, and (unless head_only or 101)
// the body with its Content-Length.
void append_response(std::string& out, const Response& response);

std::string_view reason_phrase(int status);

}  // namespace ferry::demo
