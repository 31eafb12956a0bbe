// Pieces shared by the TLS files of core/ (not for use outside them).
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "core/tls.h"

namespace ferry::core::tls_detail {

// Reads every certificate of a PEM file (leaf first, then the chain). Empty + `error`
// in nginx's wording ("cannot load certificate \"path\": ...") on failure.
std::vector<X509Ptr> load_certificates(const std::string& path, std::string& error);

// Reads the first private key of a PEM file; null + `error` on failure.
EvpPkeyPtr load_private_key(const std::string& path, std::string& error);

// Options and modes every ferry context gets, client or server: protocol versions from
// the TlsProtocol mask, no compression, EOF without
// close_notify read as a clean end (nginx sets SSL_OP_IGNORE_UNEXPECTED_EOF), released
// idle buffers, partial writes that may be retried from a moved buffer, and kernel TLS
// where the kernel offers it (read-ahead otherwise).
void set_common_options(SSL_CTX* ctx, uint8_t protocols);

// Whether a failure is the peer's doing (nginx logs those at the connection's low
// level, the rest at `crit`): a socket errno, or the reason of OpenSSL's last error.
bool peer_errno(int err);
bool peer_reason(int reason);

// SSL_CTX_sess_set_new_cb target of client contexts: hands the session to the TlsStream
// of `ssl` (defined in tls_stream.cpp).
int on_new_client_session(SSL* ssl, SSL_SESSION* session);
// Marks the connection's handshake as refused by the SNI selector, for its error text.
void mark_sni_rejected(SSL* ssl);

}  // namespace ferry::core::tls_detail
