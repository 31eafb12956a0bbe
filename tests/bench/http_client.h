// bench-http: the modes, each in its own file.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>

namespace ferry::bench {

// New connections per second (http_connect.cpp), `concurrency` at once shared by
// `threads` threads; `tls` null: plain TCP.
int run_connect(const std::string& host, uint16_t port, const std::string& path,
                uint64_t concurrency, double duration, uint64_t threads, SSL_CTX* tls);

}  // namespace ferry::bench
