// TLS contexts with OpenSSL 3: one SSL_CTX per TLS server block (built from its ssl_*
// settings), one per upstream TLS configuration, SNI switching between server contexts,
// nginx-shaped error texts, upstream session reuse, and the first-byte probe that tells
// a TLS ClientHello from plain HTTP on a TLS port. The byte stream itself is TlsStream
// (core/tls_stream.h).
//
// Contexts are built once at load time and shared read-only by every worker thread; a
// connection's SSL object holds its own reference, so a context outlives the config
// generation that made it for as long as connections use it.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {

// Owners for OpenSSL objects.
struct SslCtxFree {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
    void operator()(SSL* p) const { SSL_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct EvpPkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct SslSessionFree {
    void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// `what` followed by OpenSSL's error queue as nginx prints it, draining the queue:
//   SSL_CTX_use_PrivateKey("/k.pem") failed (SSL: error:05800074:x509 certificate
//   routines::key values mismatch)
// Each queued error is " <ERR_error_string_n>" plus ":<data>" when it carries text; the
// list is wrapped in " (SSL:" ... ")" and left out when the queue is empty.
std::string ssl_error_text(std::string_view what);

// TLS protocol versions, as a mask (ssl_protocols, proxy_ssl_protocols).
enum TlsProtocol : uint8_t {
    tls_sslv3 = 1,
    tls_v1 = 2,
    tls_v1_1 = 4,
    tls_v1_2 = 8,
    tls_v1_3 = 16,
};

// Settings of one TLS server block (ssl_*), filled by the layer that reads the
// configuration (http/tls_contexts.cpp); paths are absolute.
struct TlsServerSettings {
    struct Pair {
        std::string certificate;  // PEM chain, leaf first
        std::string key;
    };
    std::vector<Pair> certificates;
    uint8_t protocols = tls_v1_2 | tls_v1_3;
    std::string ciphers = "HIGH:!aNULL:!MD5";
    bool prefer_server_ciphers = false;
    enum class SessionCache : uint8_t {
        off,
        none,
        builtin,
        shared
    } session_cache = SessionCache::none;
    uint64_t session_cache_size = 0;  // bytes for shared, sessions for builtin
    int64_t session_timeout_ms = 5 * 60 * 1000;
    bool session_tickets = true;
    std::string dhparam;  // empty: none
    std::string ecdh_curve = "auto";
};

// Builds the context of one TLS server block: its certificate/key pairs (several of
// different key types, e.g. RSA + ECDSA, as nginx allows), ssl_protocols, ssl_ciphers,
// ssl_prefer_server_ciphers, ssl_session_cache / _timeout / _tickets, ssl_dhparam,
// ssl_ecdh_curve; ALPN offers http/1.1 (then http/1.0, http/0.9, as nginx) and fails the
// handshake with no_application_protocol when the client offers none of them (nginx >=
// 1.21.4). On failure returns null and sets `error` to nginx's wording, e.g.
//   cannot load certificate "/c.pem": BIO_new_file() failed (SSL: error:80000002:...)
//   cannot load certificate key "/k.pem": PEM_read_bio_PrivateKey() failed (SSL: ...)
//   SSL_CTX_use_PrivateKey("/k.pem") failed (SSL: ... key values mismatch)
//
// Session cache: the SSL_CTX's internal cache, shared by all worker threads because the
// context is. `builtin:N` keeps N sessions (OpenSSL's default 20480 when N is 0);
// `shared:NAME:SIZE` keeps about 4000 sessions per MiB of SIZE, as nginx sizes its zone;
// `none` pretends to cache (nginx's mode) and `off` refuses resumption by session id.
// Tickets use keys made with the context, valid for its lifetime (until reload). With
// SNI, the cache and ticket keys in use are always the default server's (the context
// the connection started on), as in nginx; each server's certificates make its own
// session id context, so a session never resumes on another server block.
SslCtxPtr make_server_context(const TlsServerSettings& settings, std::string& error);

// SNI: what the caller's selector answers for a ClientHello's server name.
struct SniChoice {
    SSL_CTX* ctx = nullptr;  // the server's context; null keeps the current one
    bool reject = false;     // end the handshake with an unrecognized_name alert
};
// Called during the handshake, on the worker thread that owns the connection (several
// workers may call it at once: it must only read shared state). `server_name` is the
// name as sent (not lowercased; empty when the client sent none). A returned context
// must be a server context from make_server_context and stays referenced by the
// connection.
using SniSelector = std::function<SniChoice(std::string_view server_name)>;

// Installs `select` on the default server's context (the one connections are accepted
// with). It runs from OpenSSL's ClientHello callback, before the protocol version and
// cipher are chosen, so the chosen server's ssl_protocols and ssl_ciphers apply. The
// selector is owned by the context. Call before the context is used.
void set_sni_selector(SSL_CTX* default_ctx, SniSelector select);

// Settings of one upstream TLS configuration (proxy_ssl_*).
struct TlsClientSettings {
    uint8_t protocols = tls_v1_2 | tls_v1_3;
    std::string ciphers = "DEFAULT";
    bool verify = false;              // proxy_ssl_verify
    std::string trusted_certificate;  // proxy_ssl_trusted_certificate (PEM, may hold many)
    int verify_depth = 1;             // proxy_ssl_verify_depth
    bool session_reuse = true;        // proxy_ssl_session_reuse
};

// Builds an upstream context. As nginx, the handshake itself never fails on a bad
// certificate: with `verify` on, TlsStream::handshake() checks the chain result and the
// host name afterwards. Null + nginx-worded `error` on failure.
SslCtxPtr make_client_context(const TlsClientSettings& settings, std::string& error);

// What the first byte of a fresh connection on a TLS port says (recv MSG_PEEK).
enum class FirstByte : uint8_t {
    tls,     // 0x16 (handshake record) or an SSLv2-style header (high bit set)
    plain,   // anything else: nginx treats it as plain HTTP and answers
             // "400 The plain HTTP request was sent to HTTPS port"
    again,   // nothing received yet: wait for readability
    closed,  // the peer closed before sending anything
    error,   // recv failed: `err` holds errno
};
FirstByte probe_first_byte(int fd, int& err);

// True when this kernel has the `tls` TCP ULP registered (read once from
// /proc/sys/net/ipv4/tcp_available_ulp). Contexts ask OpenSSL for kernel TLS only then,
// so kernels without it pay no failed setsockopt per connection.
bool kernel_offers_ktls();

}  // namespace ferry::core
