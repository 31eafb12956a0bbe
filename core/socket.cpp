#include "core/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::core {

uint16_t SockAddr::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

size_t SockAddr::ip_to(char* out, size_t cap) const {
    if (family() == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
        if (!inet_ntop(AF_INET, &a->sin_addr, out, cap)) return 0;
        return strlen(out);
    }
    if (family() == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
        if (!inet_ntop(AF_INET6, &a->sin6_addr, out, cap)) return 0;
        return strlen(out);
    }
    if (family() == AF_UNIX) {
        // nginx shows "unix:" for a client of a unix socket
        const char* s = "unix:";
        size_t n = strlen(s) < cap ? strlen(s) : cap;
        memcpy(out, s, n);
        return n;
    }
    return 0;
}

std::string SockAddr::ip() const {
    char buf[INET6_ADDRSTRLEN + 8];
    return std::string(buf, ip_to(buf, sizeof buf));
}

std::string SockAddr::to_string() const {
    if (family() == AF_UNIX) {
        const auto* u = reinterpret_cast<const sockaddr_un*>(&storage);
        return fmt::format("unix:{}", u->sun_path);
    }
    if (family() == AF_INET6) return fmt::format("[{}]:{}", ip(), port());
    return fmt::format("{}:{}", ip(), port());
}

bool SockAddr::operator==(const SockAddr& o) const {
    return len == o.len && memcmp(&storage, &o.storage, len) == 0;
}

SockAddr SockAddr::unix_path(std::string_view path) {
    SockAddr a;
    auto* u = reinterpret_cast<sockaddr_un*>(&a.storage);
    u->sun_family = AF_UNIX;
    size_t n = path.size() < sizeof(u->sun_path) - 1 ? path.size() : sizeof(u->sun_path) - 1;
    memcpy(u->sun_path, path.data(), n);
    u->sun_path[n] = '\0';
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
    return a;
}

bool SockAddr::from_ip(std::string_view host, uint16_t port, SockAddr& out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (host.size() >= sizeof buf) return false;
    memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';
    out = SockAddr{};
    auto* a4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (inet_pton(AF_INET, buf, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        out.len = sizeof(sockaddr_in);
        return true;
    }
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (inet_pton(AF_INET6, buf, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        out.len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

std::vector<SockAddr> resolve(const std::string& host, uint16_t port, std::string& error) {
    std::vector<SockAddr> out;
    SockAddr lit;
    if (SockAddr::from_ip(host, port, lit)) {
        out.push_back(lit);
        return out;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        error = gai_strerror(rc);
        return out;
    }
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        SockAddr a;
        memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        if (a.family() == AF_INET) {
            reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
        } else if (a.family() == AF_INET6) {
            reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
        } else {
            continue;
        }
        bool dup = false;
        for (const auto& seen : out)
            dup = dup || seen == a;
        if (!dup) out.push_back(a);
    }
    freeaddrinfo(res);
    if (out.empty()) error = "no addresses";
    return out;
}

std::string errno_text(int err) {
    return fmt::format("({}: {})", err, strerror(err));
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

UniqueFd listen_on(const SockAddr& addr, const ListenOptions& opts, std::string& error) {
    UniqueFd fd(socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = fmt::format("socket() {} failed {}", addr.to_string(), errno_text(errno));
        return {};
    }
    int one = 1;
    if (addr.family() != AF_UNIX) {
        setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (opts.reuseport &&
            setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            error = fmt::format("setsockopt(SO_REUSEPORT) {} failed {}", addr.to_string(),
                                errno_text(errno));
            return {};
        }
    }
    if (addr.family() == AF_INET6) {
        int v6only = opts.ipv6only < 0 ? 1 : opts.ipv6only;
        setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd.get(), addr.get(), addr.len) != 0) {
        error = fmt::format("bind() to {} failed {}", addr.to_string(), errno_text(errno));
        return {};
    }
    if (listen(fd.get(), opts.backlog) != 0) {
        error = fmt::format("listen() to {} failed {}", addr.to_string(), errno_text(errno));
        return {};
    }
    return fd;
}

UniqueFd connect_to(const SockAddr& addr, bool& in_progress) {
    in_progress = false;
    UniqueFd fd(socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return {};
    if (::connect(fd.get(), addr.get(), addr.len) == 0) return fd;
    if (errno == EINPROGRESS) {
        in_progress = true;
        return fd;
    }
    int saved = errno;
    fd.reset();
    errno = saved;
    return {};
}

}  // namespace ferry::core
