// ferry-demo-upstream: the bundled upstream of ferry's quick start. It serves one HTML
// page with a WebSocket echo client at "/" and a WebSocket echo endpoint at
// "/ws/echo", on the address given with --listen.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "examples/demo_upstream/server.h"

namespace {

constexpr const char* usage =
    "usage: ferry-demo-upstream [--listen HOST:PORT]\n"
    "\n"
    "Serves the ferry demo: GET / is an HTML page with a WebSocket echo client,\n"
    "GET /ws/echo (with Upgrade: websocket) echoes every message back.\n"
    "\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8081)\n";

}  // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1:8081";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (arg == "--listen" && i + 1 < argc) {
            address = argv[++i];
        } else if (arg.rfind("--listen=", 0) == 0) {
            address = arg.substr(std::strlen("--listen="));
        } else {
            std::fprintf(stderr, "ferry-demo-upstream: unknown argument \"%s\"\n%s", arg.c_str(),
                         usage);
            return 2;
        }
    }
    ::signal(SIGPIPE, SIG_IGN);
    std::string error;
    auto server = ferry::demo::Server::listen(address, ferry::demo::Limits{}, error);
    if (!server) {
        std::fprintf(stderr, "ferry-demo-upstream: %s\n", error.c_str());
        return 1;
    }
    return server->run();
}
