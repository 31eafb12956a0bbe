// Socket addresses and the few socket calls ferry makes: listening sockets with
// SO_REUSEPORT, accept4, non-blocking connect, name resolution at load time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"

namespace ferry::core {

struct SockAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
    uint16_t port() const;
    // "127.0.0.1", "::1", "unix:/path"
    std::string ip() const;
    // Writes the IP text into `out` (at least 64 bytes); returns its length.
    size_t ip_to(char* out, size_t cap) const;
    // "127.0.0.1:8080", "[::1]:8080", "unix:/path"
    std::string to_string() const;
    bool operator==(const SockAddr& o) const;

    static SockAddr unix_path(std::string_view path);
    // Parses an IP literal (no brackets) and a port; false if `host` is not a literal.
    static bool from_ip(std::string_view host, uint16_t port, SockAddr& out);
};

// Resolves `host` (IP literal or name) for `port`. Returns the addresses, or an empty
// vector with `error` set to the resolver's reason.
std::vector<SockAddr> resolve(const std::string& host, uint16_t port, std::string& error);

struct ListenOptions {
    bool reuseport = true;
    int backlog = 511;
    int ipv6only = -1;  // -1: leave the default (ferry sets 1 for "[::]" as nginx does)
};

// Creates a non-blocking listening socket bound to `addr`. On failure returns an
// invalid fd and sets `error` to nginx's wording, e.g.
// "bind() to 0.0.0.0:80 failed (98: Address already in use)".
UniqueFd listen_on(const SockAddr& addr, const ListenOptions& opts, std::string& error);

// Starts a non-blocking connect. Returns the socket; `in_progress` tells whether the
// caller must wait for writability. Invalid fd + errno on immediate failure.
UniqueFd connect_to(const SockAddr& addr, bool& in_progress);

// "(111: Connection refused)"-style text for errno `err`.
std::string errno_text(int err);

void set_nodelay(int fd);

}  // namespace ferry::core
