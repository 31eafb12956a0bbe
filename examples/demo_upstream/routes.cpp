#include "examples/demo_upstream/routes.h"

#include "examples/demo_upstream/page.h"
#include "examples/demo_upstream/websocket.h"

namespace ferry::demo {

namespace {

Reply page(const Request& request, bool keep_alive) {
    if (request.method != "GET" && request.method != "HEAD") {
        Reply reply{plain_response(405, keep_alive)};
        reply.response.headers.emplace_back("Allow", "GET, HEAD");
        return reply;
    }
    Reply reply;
    reply.response.content_type = "text/html; charset=utf-8";
    reply.response.body = std::string(demo_page());
    reply.response.headers.emplace_back("Cache-Control", "no-store");
    reply.response.keep_alive = keep_alive;
    reply.response.head_only = request.method == "HEAD";
    return reply;
}

// RFC 6455 section 4.2: the opening handshake of the echo endpoint.
Reply echo_handshake(const Request& request, uint64_t body_length, bool keep_alive) {
    if (!request.has_token("Upgrade", "websocket")) {
        // A plain request (a browser tab, or a proxy that dropped the hop-by-hop
        // Upgrade header): say what this endpoint speaks.
        Reply reply{plain_response(426, keep_alive)};
        reply.response.body = "426 Upgrade Required: /ws/echo speaks WebSocket\n";
        reply.response.headers.emplace_back("Upgrade", "websocket");
        reply.response.lists_upgrade = true;
        return reply;
    }
    if (request.value("Sec-WebSocket-Version") != "13") {
        Reply reply{plain_response(426, keep_alive)};
        reply.response.headers.emplace_back("Sec-WebSocket-Version", "13");
        reply.response.headers.emplace_back("Upgrade", "websocket");
        reply.response.lists_upgrade = true;
        return reply;
    }
    std::string_view key = request.value("Sec-WebSocket-Key");
    bool valid = request.method == "GET" && request.minor_version == 1 && body_length == 0 &&
                 request.has_token("Connection", "upgrade") &&
                 request.count("Sec-WebSocket-Key") == 1 && valid_client_key(key);
    if (!valid) return Reply{plain_response(400, keep_alive)};
    Reply reply;
    reply.response.status = 101;
    reply.response.headers.emplace_back("Upgrade", "websocket");
    reply.response.headers.emplace_back("Sec-WebSocket-Accept", accept_key(key));
    reply.upgrade = true;
    return reply;
}

}  // namespace

Reply route(const Request& request, uint64_t body_length, bool keep_alive) {
    std::string_view path = request.path();
    if (path == "/") return page(request, keep_alive);
    if (path == "/ws/echo") return echo_handshake(request, body_length, keep_alive);
    Reply reply{plain_response(404, keep_alive)};
    reply.response.head_only = request.method == "HEAD";
    return reply;
}

}  // namespace ferry::demo
