// A client connection of the load tools: a TCP socket, and an OpenSSL client session
// on it when --tls is given. Reads and writes go through the same few functions
// either way, so that every mode runs the same protocol over plain TCP or TLS.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::bench {

struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;  // null: plain TCP
};

// Outcome of a non-blocking read or write.
enum class Io { ok, want_read, want_write, eof, error };

// A client context: TLS 1.2 and 1.3 with OpenSSL's default ciphers, no certificate
// verification, no session cache (every handshake is a full one), ALPN http/1.1.
// `bulk` turns on read-ahead with a 256 KiB read buffer (one recv for many records:
// the throughput modes); otherwise idle connections release their buffers.
SSL_CTX* tls_client_context(bool bulk);

// Starts a client session on the connected socket c.fd (SNI "localhost"); the
// handshake is then run by tls_handshake_step() or open_conn().
void tls_start(Conn& c, SSL_CTX* ctx);

// One step of the handshake on a non-blocking socket: ok when it is complete,
// want_read or want_write to call again when the socket is ready, error otherwise
// (io_error() says why).
Io tls_handshake_step(Conn& c);

// "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519 alpn=http/1.1" for a handshaken session.
std::string tls_description(const Conn& c);

// ' tls="<tls_description>"' for a TLS connection (a field of the result lines), or
// an empty string.
std::string tls_field(const Conn& c);

// Connects (blocking) and, when ctx is not null, completes the TLS handshake.
// Exits on failure.
Conn open_conn(const std::string& host, uint16_t port, SSL_CTX* ctx);

// Non-blocking read and write: Io::ok with n > 0 bytes moved, or why nothing moved.
// On a blocking socket they only return ok, eof or error.
Io conn_recv(Conn& c, void* buf, size_t size, size_t& n);
Io conn_send(Conn& c, const void* buf, size_t size, size_t& n);

// Whether TLS holds received bytes not yet returned by conn_recv (read-ahead).
bool conn_pending(const Conn& c);

// What the last failed call was about: strerror(errno) or OpenSSL's error.
const std::string& io_error();

// Blocking read: bytes read, or 0 at the end of the stream. Exits on error.
size_t conn_read(Conn& c, void* buf, size_t size);

// Blocking write of all of [data, data+size). Exits on error.
void conn_write_all(Conn& c, const void* data, size_t size);

// Frees the session (after a close_notify when `notify`) and closes the socket.
void conn_close(Conn& c, bool notify);

}  // namespace ferry::bench
