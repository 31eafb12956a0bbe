// What the demo upstream answers: the page at "/", the WebSocket echo endpoint at
// "/ws/echo", 404 for everything else.
#pragma once

#include <cstdint>

#include "examples/demo_upstream/http_request.h"
#include "examples/demo_upstream/http_response.h"

namespace ferry::demo {

struct Reply {
    Response response;
    bool upgrade = false;  // after sending the response, speak WebSocket (echo)
};

// Answers `request` (whose body of `body_length` bytes the caller discards).
// `keep_alive` is what the request's version and Connection header ask for.
Reply route(const Request& request, uint64_t body_length, bool keep_alive);

}  // namespace ferry::demo
