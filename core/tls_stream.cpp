#include "core/tls_stream.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/socket.h"
#include "core/tls_internal.h"

namespace ferry::core {

namespace {

// The largest plaintext of one TLS record: each SSL_write gets at most this much, so a
// call sends one record (or, after `again`, finishes the record OpenSSL already made).
constexpr size_t kRecord = SSL3_RT_MAX_PLAIN_LENGTH;

int stream_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// Coalescing space for writev, one per worker thread: OpenSSL encrypts the bytes during
// SSL_write and never reads them again, so no connection needs to keep a copy.
char* staging_buffer() {
    thread_local std::unique_ptr<char[]> buffer(new char[kRecord]);
    return buffer.get();
}

// An address, bare or in brackets ("[::1]", as a name taken from a URL may be), which
// SNI must not carry (RFC 6066).
bool is_ip_literal(const std::string& name) {
    if (name.front() == '[') return true;
    unsigned char addr[sizeof(in6_addr)];
    return inet_pton(AF_INET, name.c_str(), addr) == 1 ||
           inet_pton(AF_INET6, name.c_str(), addr) == 1;
}

IoResult again(bool want_read) {
    return {Io::again, 0, 0, want_read, !want_read};
}

}  // namespace

namespace tls_detail {

// Returning 1 hands us OpenSSL's reference to `session`; 0 lets OpenSSL drop it.
int on_new_client_session(SSL* ssl, SSL_SESSION* session) {
    TlsStream* stream = TlsStream::from(ssl);
    if (!stream || !stream->save_session_ || stream->failed_ ||
        !SSL_SESSION_is_resumable(session)) {
        return 0;
    }
    SslSessionPtr owned(session);
    if (stream->handshake_done_) {
        stream->save_session_(std::move(owned));  // a TLS 1.3 ticket from a checked peer
    } else {
        stream->handshake_session_ = std::move(owned);  // unchecked yet: see finish_handshake
    }
    return 1;
}

void mark_sni_rejected(SSL* ssl) {
    if (TlsStream* stream = TlsStream::from(ssl)) stream->sni_rejected_ = true;
}

}  // namespace tls_detail

TlsStream::TlsStream(UniqueFd fd, SslPtr ssl, bool client)
    : Stream(std::move(fd)), ssl_(std::move(ssl)), client_(client) {
    SSL_set_ex_data(ssl_.get(), stream_index(), this);
}

// OpenSSL forgets the session of a connection freed without close_notify (on both
// ends: the server's cache entry and the client's saved session become unusable).
// Peers that just close are the norm, so mark the shutdown done, as nginx does; fatal
// errors have already dropped the session inside OpenSSL.
TlsStream::~TlsStream() {
    SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

TlsStream* TlsStream::from(SSL* ssl) {
    return static_cast<TlsStream*>(SSL_get_ex_data(ssl, stream_index()));
}

namespace {
// An SSL object on `fd`, or null with `error` set.
SslPtr new_ssl(SSL_CTX* ctx, int fd, std::string& error) {
    ERR_clear_error();
    SslPtr ssl(SSL_new(ctx));
    if (!ssl) {
        error = ssl_error_text("SSL_new() failed");
        return nullptr;
    }
    if (SSL_set_fd(ssl.get(), fd) != 1) {
        error = ssl_error_text("SSL_set_fd() failed");
        return nullptr;
    }
    return ssl;
}
}  // namespace

std::unique_ptr<TlsStream> TlsStream::accept(UniqueFd fd, SSL_CTX* ctx, std::string& error) {
    SslPtr ssl = new_ssl(ctx, fd.get(), error);
    if (!ssl) return nullptr;
    SSL_set_accept_state(ssl.get());
    return std::unique_ptr<TlsStream>(new TlsStream(std::move(fd), std::move(ssl), false));
}

std::unique_ptr<TlsStream> TlsStream::connect(UniqueFd fd, SSL_CTX* ctx,
                                              const TlsClientOptions& options, std::string& error) {
    SslPtr ssl = new_ssl(ctx, fd.get(), error);
    if (!ssl) return nullptr;
    SSL_set_connect_state(ssl.get());
    std::string name(options.server_name);
    if (!name.empty() && !is_ip_literal(name) &&
        SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) {
        error = ssl_error_text("SSL_set_tlsext_host_name(\"" + name + "\") failed");
        return nullptr;
    }
    if (options.session && SSL_set_session(ssl.get(), options.session) != 1) {
        error = ssl_error_text("SSL_set_session() failed");
        return nullptr;
    }
    std::unique_ptr<TlsStream> stream(new TlsStream(std::move(fd), std::move(ssl), true));
    stream->verify_name_ = options.verify_name;
    stream->save_session_ = options.save_session;
    return stream;
}

IoResult TlsStream::handshake() {
    if (handshake_done_) return IoResult::ok_n(0);
    if (failed_) return {Io::error, 0, EPROTO, false, false};
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl_.get());
    if (r == 1) return finish_handshake();
    int e = SSL_get_error(ssl_.get(), r);
    if (e == SSL_ERROR_WANT_READ) return again(true);
    if (e == SSL_ERROR_WANT_WRITE) return again(false);

    int err = e == SSL_ERROR_SYSCALL ? errno : 0;
    failed_ = true;
    if (e == SSL_ERROR_ZERO_RETURN || ERR_peek_error() == 0) {
        error_text_ = "peer closed connection in SSL handshake";
        peer_fault_ = tls_detail::peer_errno(err);
    } else if (sni_rejected_) {
        ERR_clear_error();
        error_text_ = "handshake rejected";
        peer_fault_ = true;
    } else {
        peer_fault_ = e == SSL_ERROR_SSL
                          ? tls_detail::peer_reason(ERR_GET_REASON(ERR_peek_last_error()))
                          : tls_detail::peer_errno(err);
        error_text_ = ssl_error_text("SSL_do_handshake() failed");
    }
    if (err) {
        error_text_ += ' ';
        error_text_ += errno_text(err);
    }
    return {Io::error, 0, err ? err : EPROTO, false, false};
}

IoResult TlsStream::finish_handshake() {
    handshake_done_ = true;
#ifndef OPENSSL_NO_KTLS
    ktls_send_ = BIO_get_ktls_send(SSL_get_wbio(ssl_.get()));
    ktls_recv_ = BIO_get_ktls_recv(SSL_get_rbio(ssl_.get()));
#endif
    SslSessionPtr session = std::move(handshake_session_);
    if (client_ && !check_peer()) {
        failed_ = true;  // a session from a peer that failed the check is never kept
        peer_fault_ = true;
        return {Io::error, 0, EPROTO, false, false};
    }
    if (session) save_session_(std::move(session));
    return IoResult::ok_n(0);
}

// With proxy_ssl_verify, a certificate the chain check refused, or one for another
// name, fails the connection after the handshake, with nginx's messages.
bool TlsStream::check_peer() {
    if (!(SSL_get_verify_mode(ssl_.get()) & SSL_VERIFY_PEER)) return true;
    long rc = SSL_get_verify_result(ssl_.get());
    if (rc != X509_V_OK) {
        error_text_ = fmt::format("upstream SSL certificate verify error: ({}:{})", rc,
                                  X509_verify_cert_error_string(rc));
        return false;
    }
    X509* cert = SSL_get0_peer_certificate(ssl_.get());
    if (!cert || verify_name_.empty() ||
        X509_check_host(cert, verify_name_.data(), verify_name_.size(), 0, nullptr) != 1) {
        error_text_ = "upstream SSL certificate does not match \"" + verify_name_ + "\"";
        return false;
    }
    return true;
}

IoResult TlsStream::failed(int ssl_error, const char* call) {
    int err = ssl_error == SSL_ERROR_SYSCALL ? errno : 0;
    failed_ = true;
    peer_fault_ = ssl_error == SSL_ERROR_SSL
                      ? tls_detail::peer_reason(ERR_GET_REASON(ERR_peek_last_error()))
                      : tls_detail::peer_errno(err);
    error_text_ = ssl_error_text(std::string(call) + " failed");
    if (err) {
        error_text_ += ' ';
        error_text_ += errno_text(err);
    }
    return {Io::error, 0, err ? err : EPROTO, false, false};
}

// Read results: an EOF from the peer, with or without close_notify and even inside a
// record, is `eof` (SSL_OP_IGNORE_UNEXPECTED_EOF, as nginx). A socket error such as
// ECONNRESET is `error` with that errno, as for a plain socket (nginx reads it as the
// end of the stream too, which only changes the log line).
IoResult TlsStream::read(char* buf, size_t len) {
    if (shutdown_pending_) continue_shutdown();
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    if (SSL_read_ex(ssl_.get(), buf, len, &n) == 1) {
        read_blocked_ = false;
        return IoResult::ok_n(n);
    }
    int e = SSL_get_error(ssl_.get(), 0);
    switch (e) {
        case SSL_ERROR_WANT_READ:
            read_blocked_ = true;
            return again(true);
        case SSL_ERROR_WANT_WRITE:
            return again(false);
        case SSL_ERROR_ZERO_RETURN:
            return {Io::eof, 0, 0, false, false};
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error() == 0 && errno == 0) return {Io::eof, 0, 0, false, false};
            break;
        default:
            break;
    }
    return failed(e, "SSL_read()");
}

IoResult TlsStream::write(const char* buf, size_t len) {
    if (len == 0) return IoResult::ok_n(0);
    return write_record(buf, std::min(len, kRecord));
}

IoResult TlsStream::writev(const iovec* iov, int count) {
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += iov[i].iov_len;
    if (total == 0) return IoResult::ok_n(0);
    size_t want = std::min(total, kRecord);
    int first = 0;
    while (iov[first].iov_len == 0)
        first++;
    if (iov[first].iov_len >= want) {
        return write_record(static_cast<const char*>(iov[first].iov_base), want);
    }
    char* stage = staging_buffer();
    size_t staged = 0;
    for (int i = first; i < count && staged < want; i++) {
        size_t take = std::min(iov[i].iov_len, want - staged);
        std::memcpy(stage + staged, iov[i].iov_base, take);
        staged += take;
    }
    return write_record(stage, staged);
}

IoResult TlsStream::write_record(const char* data, size_t len) {
    if (shutdown_pending_) continue_shutdown();
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    if (SSL_write_ex(ssl_.get(), data, len, &n) == 1) return IoResult::ok_n(n);
    int e = SSL_get_error(ssl_.get(), 0);
    if (e == SSL_ERROR_WANT_WRITE) return again(false);
    if (e == SSL_ERROR_WANT_READ) return again(true);
    // A write after the peer's close_notify reports ZERO_RETURN; it is a broken pipe.
    if (e == SSL_ERROR_ZERO_RETURN) {
        e = SSL_ERROR_SYSCALL;
        errno = EPIPE;
    } else if (e == SSL_ERROR_SYSCALL && errno == 0) {
        errno = EPIPE;
    }
    return failed(e, "SSL_write()");
}

void TlsStream::shutdown_write() {
    if (write_shut_) return;
    write_shut_ = true;
    if (handshake_done_ && !failed_) {
        ERR_clear_error();
        int r = SSL_shutdown(ssl_.get());
        if (r < 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_WRITE) {
            shutdown_pending_ = true;  // the FIN must not overtake the alert
            return;
        }
        ERR_clear_error();
    }
    ::shutdown(fd_.get(), SHUT_WR);
}

// Retries sending a close_notify the socket could not take; while it is queued, only
// this resends it (SSL_write refuses to run after SSL_shutdown).
void TlsStream::continue_shutdown() {
    ERR_clear_error();
    int r = SSL_shutdown(ssl_.get());
    if (r < 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_WRITE) return;
    ERR_clear_error();
    shutdown_pending_ = false;
    ::shutdown(fd_.get(), SHUT_WR);
}

bool TlsStream::can_splice() const {
    return ktls_active() && SSL_has_pending(ssl_.get()) == 0;
}

// With read-ahead, OpenSSL may hold whole records it read from the socket but has not
// decrypted yet; after a read that ended in `again` what remains is only the start of
// a record, which needs the socket again, so it is not reported.
bool TlsStream::has_pending() const {
    return SSL_pending(ssl_.get()) > 0 || (!read_blocked_ && SSL_has_pending(ssl_.get()) == 1);
}

std::string_view TlsStream::protocol() const {
    return handshake_done_ ? SSL_get_version(ssl_.get()) : "";
}

std::string_view TlsStream::cipher() const {
    return handshake_done_ ? SSL_get_cipher_name(ssl_.get()) : "";
}

std::string_view TlsStream::server_name() const {
    const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
}

bool TlsStream::session_reused() const {
    return SSL_session_reused(ssl_.get()) == 1;
}

std::string_view TlsStream::alpn() const {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &data, &len);
    return {reinterpret_cast<const char*>(data), len};
}

}  // namespace ferry::core
