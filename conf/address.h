// Socket addresses as nginx writes them: "host:port", "port", "*:port", "[::1]:port",
// "unix:/path", with nginx's error wording (ngx_parse_url()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::conf {

struct ParsedAddress {
    std::string host;   // IP literal (IPv6 without brackets), name, or "" for "*"/port-only
    uint16_t port = 0;  // 0 when not written (the caller applies its default)
    bool port_written = false;
    bool ipv6 = false;
    std::string unix_path;  // for unix:
    std::string uri;        // what follows the address when uri_part is allowed
    bool wildcard = false;  // "*", port only, 0.0.0.0 or [::]
};

// Parses `text`. `listen`: a bare number is a port; `uri_part`: "/..." after the
// address is kept in `uri` (proxy_pass). On failure returns nginx's reason ("invalid
// port", "invalid host", "no host", "invalid IPv6 address", "no path in the unix domain
// socket", "too long path in the unix domain socket").
bool parse_address(std::string_view text, bool listen, bool uri_part, ParsedAddress& out,
                   std::string& error);

// nginx's address text: "0.0.0.0:80", "[::]:443", "127.0.0.1:8080", "unix:/p".
std::string address_text(const ParsedAddress& a, uint16_t default_port);

}  // namespace ferry::conf
