// The demo's one HTML page: a WebSocket echo client that connects back to the host and
// port it was loaded from, so through ferry both travel on one port.
#pragma once

#include <string_view>

namespace ferry::demo {

std::string_view demo_page();

}  // namespace ferry::demo
