#include "conf/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <strings.h>
#include <sys/un.h>

#include "conf/units.h"

namespace ferry::conf {
namespace {

bool parse_port(std::string_view text, uint16_t& port) {
    std::optional<int64_t> n = parse_number(text);
    if (!n || *n < 1 || *n > 65535) return false;
    port = static_cast<uint16_t>(*n);
    return true;
}

bool parse_unix(std::string_view text, bool uri_part, ParsedAddress& out, std::string& error) {
    std::string_view path = text.substr(5);
    if (uri_part) {
        size_t colon = path.find(':');
        if (colon != std::string_view::npos) {
            out.uri = std::string(path.substr(colon + 1));
            path = path.substr(0, colon);
        }
    }
    if (path.empty()) {
        error = "no path in the unix domain socket";
        return false;
    }
    if (path.size() + 1 > sizeof(sockaddr_un::sun_path)) {
        error = "too long path in the unix domain socket";
        return false;
    }
    out.unix_path = std::string(path);
    return true;
}

bool parse_inet6(std::string_view text, bool uri_part, ParsedAddress& out, std::string& error) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
        error = "invalid host";
        return false;
    }
    std::string_view host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest[0] == ':') {
        size_t end = rest.find('/');
        std::string_view port = rest.substr(1, end == std::string_view::npos ? end : end - 1);
        if (!parse_port(port, out.port)) {
            error = "invalid port";
            return false;
        }
        out.port_written = true;
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
    if (!rest.empty()) {
        if (rest[0] != '/' || !uri_part) {
            error = "invalid host";
            return false;
        }
        out.uri = std::string(rest);
    }
    if (host.empty()) {
        error = "no host";
        return false;
    }
    in6_addr addr;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1) {
        error = "invalid IPv6 address";
        return false;
    }
    out.host = std::string(host);
    out.ipv6 = true;
    out.wildcard = IN6_IS_ADDR_UNSPECIFIED(&addr);
    return true;
}

bool parse_inet(std::string_view text, bool listen, bool uri_part, ParsedAddress& out,
                std::string& error) {
    size_t uri = text.find_first_of("/?");
    if (uri != std::string_view::npos) {
        if (listen || !uri_part) {
            error = "invalid host";
            return false;
        }
        out.uri = std::string(text.substr(uri));
        text = text.substr(0, uri);
    }
    size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
        if (!parse_port(text.substr(colon + 1), out.port)) {
            error = "invalid port";
            return false;
        }
        out.port_written = true;
        text = text.substr(0, colon);
    } else if (listen && uri == std::string_view::npos && parse_number(text)) {
        if (!parse_port(text, out.port)) {
            error = "invalid port";
            return false;
        }
        out.port_written = true;
        out.wildcard = true;
        return true;
    }
    if (text.empty()) {
        error = "no host";
        return false;
    }
    if (listen && text == "*") {
        out.wildcard = true;
        return true;
    }
    out.host = std::string(text);
    in_addr addr;
    if (inet_pton(AF_INET, out.host.c_str(), &addr) == 1 && addr.s_addr == INADDR_ANY) {
        out.wildcard = true;
    }
    return true;
}

}  // namespace

bool parse_address(std::string_view text, bool listen, bool uri_part, ParsedAddress& out,
                   std::string& error) {
    out = ParsedAddress{};
    if (text.size() >= 5 && strncasecmp(text.data(), "unix:", 5) == 0) {
        return parse_unix(text, uri_part, out, error);
    }
    if (!text.empty() && text[0] == '[') return parse_inet6(text, uri_part, out, error);
    return parse_inet(text, listen, uri_part, out, error);
}

std::string address_text(const ParsedAddress& a, uint16_t default_port) {
    if (!a.unix_path.empty()) return "unix:" + a.unix_path;
    uint16_t port = a.port_written ? a.port : default_port;
    if (a.ipv6) {
        char buf[INET6_ADDRSTRLEN];
        in6_addr addr;
        std::string host = a.host;
        if (inet_pton(AF_INET6, a.host.c_str(), &addr) == 1 &&
            inet_ntop(AF_INET6, &addr, buf, sizeof buf)) {
            host = buf;
        }
        return fmt::format("[{}]:{}", host, port);
    }
    std::string host = a.host.empty() ? "0.0.0.0" : a.host;
    return fmt::format("{}:{}", host, port);
}

}  // namespace ferry::conf
