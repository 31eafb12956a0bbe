// TlsStream: a Stream that runs TLS over a non-blocking socket, server side (after
// accept) or client side (after connect, for proxy_pass https://).
//
// Contract for callers (in addition to Stream's):
// - handshake() until it returns ok before read/write; `again` says which readiness to
//   wait for in want_read/want_write (a TLS stream may need to write in order to read).
// - After write()/writev() returns `again`, the next write()/writev() must present the
//   same bytes again at the front (do not advance, do not shrink; appending more is
//   fine, and the bytes may sit at another address or be split into other iovecs).
//   OpenSSL has already encrypted a record from them and finishes sending it first.
// - After read() returns ok, call read() again while has_pending() says so: decrypted
//   or read-ahead bytes are inside OpenSSL where epoll cannot see them.
// - take_fd() must not be used on a TlsStream (the SSL object keeps using the fd).
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <string_view>

#include "core/log_level.h"
#include "core/stream.h"
#include "core/tls.h"

namespace ferry::core {

namespace tls_detail {
int on_new_client_session(SSL* ssl, SSL_SESSION* session);
void mark_sni_rejected(SSL* ssl);
}  // namespace tls_detail

// Per-connection options of an upstream TLS connection.
struct TlsClientOptions {
    // SNI to send (proxy_ssl_server_name on: proxy_ssl_name or the proxy_pass host,
    // without port). Empty sends none; IP literals are never sent (RFC 6066).
    std::string_view server_name = {};
    // The name the certificate must match when the context verifies (proxy_ssl_verify).
    std::string_view verify_name = {};
    // A session saved from an earlier connection to the same peer (save_session), offered
    // for resumption; may be null. Not taken over: the caller keeps its copy.
    SSL_SESSION* session = nullptr;
    // Receives each resumable session the server gives, once the handshake and the
    // certificate check succeeded: a TLS 1.2 session at the end of the handshake, TLS 1.3
    // tickets whenever they arrive after it (while reading, possibly much later). Runs on
    // the connection's thread, inside handshake() or read(). Empty: sessions are dropped.
    std::function<void(SslSessionPtr)> save_session = {};
};

class TlsStream final : public Stream {
  public:
    // A server-side stream on an accepted socket, with the default server's context.
    // Null + `error` when OpenSSL cannot make the connection object.
    static std::unique_ptr<TlsStream> accept(UniqueFd fd, SSL_CTX* ctx, std::string& error);
    // A client-side stream on a connected (or still connecting) socket.
    static std::unique_ptr<TlsStream> connect(UniqueFd fd, SSL_CTX* ctx,
                                              const TlsClientOptions& options, std::string& error);
    ~TlsStream() override;

    IoResult handshake() override;
    IoResult read(char* buf, size_t len) override;
    IoResult write(const char* buf, size_t len) override;
    // Coalesces small iovecs into one TLS record (up to 16 KiB) through a per-thread
    // staging buffer, so a response head and a small body go out as one record; a large
    // first iovec is encrypted in place. Returns how many bytes of the iovecs were sent.
    IoResult writev(const iovec* iov, int count) override;
    // Sends close_notify, then FIN. If the socket cannot take the alert right now, the
    // FIN waits until a later read/write call on this stream has flushed it.
    void shutdown_write() override;
    // Only when kernel TLS carries both directions and OpenSSL holds no bytes.
    bool can_splice() const override;
    bool has_pending() const override;

    bool handshake_done() const { return handshake_done_; }
    bool ktls_active() const { return ktls_send_ && ktls_recv_; }
    bool ktls_send() const { return ktls_send_; }
    bool ktls_recv() const { return ktls_recv_; }

    // Variables, valid after the handshake.
    std::string_view protocol() const;     // $ssl_protocol: "TLSv1.3"
    std::string_view cipher() const;       // $ssl_cipher: "TLS_AES_256_GCM_SHA384"
    std::string_view server_name() const;  // $ssl_server_name: the client's SNI or ""
    bool session_reused() const;           // $ssl_session_reused: "r" when true, else "."
    std::string_view alpn() const;         // the negotiated protocol or ""

    // After an `error` result: the nginx-shaped reason, e.g.
    //   "SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported protocol)"
    //   "peer closed connection in SSL handshake"
    //   "upstream SSL certificate verify error: (20:unable to get local issuer certificate)"
    // and, for a socket error, errno's text appended as nginx does.
    const std::string& error_text() const { return error_text_; }
    // True when the failure is the peer's doing (bad or truncated handshake, unknown
    // name, old protocol, reset): nginx logs those at `info` on client connections (at
    // `error` on upstream ones) and everything else at `crit`.
    bool error_is_peer_fault() const { return peer_fault_; }

    SSL* native_handle() const { return ssl_.get(); }

  private:
    TlsStream(UniqueFd fd, SslPtr ssl, bool client);
    static TlsStream* from(SSL* ssl);
    friend int tls_detail::on_new_client_session(SSL* ssl, SSL_SESSION* session);
    friend void tls_detail::mark_sni_rejected(SSL* ssl);

    IoResult failed(int ssl_error, const char* call);
    IoResult finish_handshake();
    bool check_peer();
    void continue_shutdown();
    IoResult write_record(const char* data, size_t len);

    SslPtr ssl_;
    // Client: where sessions go, and one that came during the handshake, held until the
    // certificate check passes.
    std::function<void(SslSessionPtr)> save_session_;
    SslSessionPtr handshake_session_;
    std::string verify_name_;
    std::string error_text_;
    bool client_ = false;
    bool handshake_done_ = false;
    bool failed_ = false;        // a fatal error ended the TLS session
    bool read_blocked_ = false;  // the last read wanted more bytes from the socket
    bool write_shut_ = false;
    bool shutdown_pending_ = false;  // close_notify queued, FIN not yet sent
    bool sni_rejected_ = false;
    bool peer_fault_ = false;
    bool ktls_send_ = false;
    bool ktls_recv_ = false;
};

}  // namespace ferry::core
