#include "tests/bench/client_conn.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/bench/bench_util.h"

namespace ferry::bench {

namespace {

thread_local std::string last_error;

// Records OpenSSL's first queued error (or errno's text when the queue is empty)
// and empties the queue, so that the next SSL_get_error() sees only its own call.
void record_tls_error(const char* what) {
    unsigned long e = ERR_get_error();
    if (e != 0) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        last_error = fmt::format("{}: {}", what, text);
    } else {
        last_error = fmt::format("{}: {}", what, errno ? std::strerror(errno) : "unexpected EOF");
    }
    ERR_clear_error();
}

// Maps the result of an SSL_* call to an Io.
Io tls_outcome(SSL* ssl, int ret, const char* what) {
    switch (SSL_get_error(ssl, ret)) {
        case SSL_ERROR_WANT_READ:
            return Io::want_read;
        case SSL_ERROR_WANT_WRITE:
            return Io::want_write;
        case SSL_ERROR_ZERO_RETURN:
            return Io::eof;
        case SSL_ERROR_SYSCALL:
            if (errno == EINTR) return Io::want_read;  // retried by the callers' loops
            [[fallthrough]];
        default:
            record_tls_error(what);
            return Io::error;
    }
}

}  // namespace

SSL_CTX* tls_client_context(bool bulk) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    // No chain building either (OpenSSL runs it even with SSL_VERIFY_NONE): the
    // client's handshake costs only what the protocol needs.
    SSL_CTX_set_cert_verify_callback(
        ctx, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    // A peer that closes without close_notify ends the stream as a plain EOF would.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) != 0) die("SSL_CTX_set_alpn_protos");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (bulk) {
        SSL_CTX_set_read_ahead(ctx, 1);
        SSL_CTX_set_default_read_buffer_len(ctx, 256 << 10);
    } else {
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    }
    return ctx;
}

void tls_start(Conn& c, SSL_CTX* ctx) {
    c.ssl = SSL_new(ctx);
    if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) die("SSL_new failed");
    SSL_set_tlsext_host_name(c.ssl, "localhost");
    SSL_set_connect_state(c.ssl);
}

Io tls_handshake_step(Conn& c) {
    errno = 0;
    int r = SSL_do_handshake(c.ssl);
    return r == 1 ? Io::ok : tls_outcome(c.ssl, r, "TLS handshake");
}

std::string tls_description(const Conn& c) {
    const unsigned char* alpn = nullptr;
    unsigned alpn_size = 0;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_size);
    int group = SSL_get_negotiated_group(c.ssl);
    return fmt::format("{} {} {} alpn={}", SSL_get_version(c.ssl),
                       SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl)),
                       group ? OBJ_nid2sn(group) : "?",
                       alpn_size ? std::string(reinterpret_cast<const char*>(alpn), alpn_size)
                                 : std::string("none"));
}

std::string tls_field(const Conn& c) {
    return c.ssl ? fmt::format(" tls=\"{}\"", tls_description(c)) : std::string();
}

Conn open_conn(const std::string& host, uint16_t port, SSL_CTX* ctx) {
    Conn c;
    c.fd = connect_tcp(host, port, false);
    if (c.fd < 0) die_errno(fmt::format("connect {}:{}", host, port));
    if (!ctx) return c;
    tls_start(c, ctx);
    for (;;) {
        Io io = tls_handshake_step(c);
        if (io == Io::ok) return c;
        if (io != Io::want_read && io != Io::want_write)
            die(io == Io::eof ? std::string("TLS handshake: connection closed") : io_error());
    }
}

Io conn_recv(Conn& c, void* buf, size_t size, size_t& n) {
    n = 0;
    if (c.ssl) {
        errno = 0;
        int r = SSL_read_ex(c.ssl, buf, size, &n);
        return r == 1 ? Io::ok : tls_outcome(c.ssl, r, "TLS read");
    }
    for (;;) {
        ssize_t r = recv(c.fd, buf, size, 0);
        if (r > 0) {
            n = size_t(r);
            return Io::ok;
        }
        if (r == 0) return Io::eof;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return Io::want_read;
        last_error = fmt::format("recv: {}", std::strerror(errno));
        return Io::error;
    }
}

Io conn_send(Conn& c, const void* buf, size_t size, size_t& n) {
    n = 0;
    if (c.ssl) {
        errno = 0;
        int r = SSL_write_ex(c.ssl, buf, size, &n);
        return r == 1 ? Io::ok : tls_outcome(c.ssl, r, "TLS write");
    }
    for (;;) {
        ssize_t r = send(c.fd, buf, size, MSG_NOSIGNAL);
        if (r >= 0) {
            n = size_t(r);
            return Io::ok;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return Io::want_write;
        last_error = fmt::format("send: {}", std::strerror(errno));
        return Io::error;
    }
}

bool conn_pending(const Conn& c) {
    return c.ssl && SSL_has_pending(c.ssl);
}

const std::string& io_error() {
    return last_error;
}

size_t conn_read(Conn& c, void* buf, size_t size) {
    for (;;) {
        size_t n = 0;
        Io io = conn_recv(c, buf, size, n);
        if (io == Io::ok) return n;
        if (io == Io::eof) return 0;
        if (io == Io::error) die(io_error());
    }
}

void conn_write_all(Conn& c, const void* data, size_t size) {
    auto p = static_cast<const uint8_t*>(data);
    while (size > 0) {
        size_t n = 0;
        Io io = conn_send(c, p, size, n);
        if (io == Io::error) die(io_error());
        p += n;
        size -= n;
    }
}

void conn_close(Conn& c, bool notify) {
    if (c.ssl) {
        if (notify) SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
        ERR_clear_error();
        c.ssl = nullptr;
    }
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
}

}  // namespace ferry::bench
