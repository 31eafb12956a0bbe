#include "core/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "core/tls_internal.h"

namespace ferry::core {

std::string ssl_error_text(std::string_view what) {
    std::string out(what);
    if (ERR_peek_error() == 0) return out;
    out += " (SSL:";
    for (;;) {
        const char* data = nullptr;
        int flags = 0;
        unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
        if (e == 0) break;
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += ' ';
        out += buf;
        if (data && *data && (flags & ERR_TXT_STRING)) {
            out += ':';
            out += data;
        }
    }
    out += ')';
    return out;
}

namespace tls_detail {

namespace {
BioPtr open_file(const std::string& path) {
    return BioPtr(BIO_new_file(path.c_str(), "r"));
}

// The error queue's last entry says whether PEM_read_bio_X509 stopped at the end of the
// file (no further "-----BEGIN" line) or on a damaged certificate.
bool at_end_of_pem() {
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}
}  // namespace

std::vector<X509Ptr> load_certificates(const std::string& path, std::string& error) {
    std::vector<X509Ptr> certs;
    std::string what = "cannot load certificate \"" + path + "\": ";
    BioPtr bio = open_file(path);
    if (!bio) {
        error = ssl_error_text(what + "BIO_new_file() failed");
        return {};
    }
    // The leaf may carry trust settings ("TRUSTED CERTIFICATE"), as nginx accepts.
    X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
    if (!leaf) {
        error = ssl_error_text(what + "PEM_read_bio_X509_AUX() failed");
        return {};
    }
    certs.push_back(std::move(leaf));
    for (;;) {
        X509Ptr next(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (next) {
            certs.push_back(std::move(next));
            continue;
        }
        if (at_end_of_pem()) {
            ERR_clear_error();
            return certs;
        }
        error = ssl_error_text(what + "PEM_read_bio_X509() failed");
        return {};
    }
}

EvpPkeyPtr load_private_key(const std::string& path, std::string& error) {
    std::string what = "cannot load certificate key \"" + path + "\": ";
    BioPtr bio = open_file(path);
    if (!bio) {
        error = ssl_error_text(what + "BIO_new_file() failed");
        return nullptr;
    }
    // No passphrase callback: an encrypted key fails here instead of prompting.
    static const auto no_password = [](char*, int, int, void*) { return 0; };
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
    if (!key) error = ssl_error_text(what + "PEM_read_bio_PrivateKey() failed");
    return key;
}

// Socket errors that mean the peer went away, not that something is wrong here.
bool peer_errno(int err) {
    switch (err) {
        case 0:
        case ECONNRESET:
        case EPIPE:
        case ENOTCONN:
        case ETIMEDOUT:
        case ECONNREFUSED:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EHOSTUNREACH:
            return true;
        default:
            return false;
    }
}

// OpenSSL reasons that mean the peer sent something bad, old or unexpected (nginx logs
// these at the connection's low level rather than `crit`).
bool peer_reason(int reason) {
    static const int reasons[] = {
        SSL_R_BAD_CHANGE_CIPHER_SPEC,
        SSL_R_NO_SUITABLE_KEY_SHARE,
        SSL_R_BAD_KEY_SHARE,
        SSL_R_BAD_EXTENSION,
        SSL_R_BAD_DIGEST_LENGTH,
        SSL_R_MISSING_SIGALGS_EXTENSION,
        SSL_R_BAD_PACKET_LENGTH,
        SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM,
        SSL_R_BAD_KEY_UPDATE,
        SSL_R_BLOCK_CIPHER_PAD_IS_WRONG,
        SSL_R_CCS_RECEIVED_EARLY,
        SSL_R_DATA_BETWEEN_CCS_AND_FINISHED,
        SSL_R_DATA_LENGTH_TOO_LONG,
        SSL_R_DIGEST_CHECK_FAILED,
        SSL_R_ENCRYPTED_LENGTH_TOO_LONG,
        SSL_R_ERROR_IN_RECEIVED_CIPHER_LIST,
        SSL_R_EXCESSIVE_MESSAGE_SIZE,
        SSL_R_HTTPS_PROXY_REQUEST,
        SSL_R_HTTP_REQUEST,
        SSL_R_LENGTH_MISMATCH,
        SSL_R_LENGTH_TOO_SHORT,
        SSL_R_NO_RENEGOTIATION,
        SSL_R_NO_CIPHERS_SPECIFIED,
        SSL_R_NO_COMPRESSION_SPECIFIED,
        SSL_R_NO_SHARED_CIPHER,
        SSL_R_PACKET_LENGTH_TOO_LONG,
        SSL_R_RECORD_LENGTH_MISMATCH,
        SSL_R_TOO_MANY_WARN_ALERTS,
        SSL_R_CALLBACK_FAILED,
        SSL_R_NO_APPLICATION_PROTOCOL,
        SSL_R_UNEXPECTED_MESSAGE,
        SSL_R_UNEXPECTED_RECORD,
        SSL_R_UNKNOWN_ALERT_TYPE,
        SSL_R_UNKNOWN_PROTOCOL,
        SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS,
        SSL_R_UNSUPPORTED_PROTOCOL,
        SSL_R_NO_SHARED_GROUPS,
        SSL_R_WRONG_VERSION_NUMBER,
        SSL_R_BAD_LENGTH,
        SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
        SSL_R_APPLICATION_DATA_AFTER_CLOSE_NOTIFY,
        SSL_R_BAD_LEGACY_VERSION,
        SSL_R_MIXED_HANDSHAKE_AND_NON_HANDSHAKE_DATA,
        SSL_R_RECORD_TOO_SMALL,
        SSL_R_SSL3_SESSION_ID_TOO_LONG,
        SSL_R_BAD_ECPOINT,
        SSL_R_RENEGOTIATE_EXT_TOO_LONG,
        SSL_R_RENEGOTIATION_ENCODING_ERR,
        SSL_R_RENEGOTIATION_MISMATCH,
        SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED,
        SSL_R_SCSV_RECEIVED_WHEN_RENEGOTIATING,
        SSL_R_INAPPROPRIATE_FALLBACK,
        SSL_R_CERT_CB_ERROR,
        SSL_R_VERSION_TOO_LOW,
        SSL_R_BAD_RECORD_TYPE,
    };
    // Alerts received from the peer come as SSL_AD_REASON_OFFSET + alert number.
    if (reason >= SSL_AD_REASON_OFFSET && reason <= SSL_AD_REASON_OFFSET + 255) return true;
    return std::find(std::begin(reasons), std::end(reasons), reason) != std::end(reasons);
}

void set_common_options(SSL_CTX* ctx, uint8_t protocols) {
    // Protocol versions by option bits, as nginx does, so a mask with gaps works; the
    // version bounds are reset because the system openssl.cnf may raise the minimum.
    const struct {
        uint8_t bit;
        uint64_t off;
    } versions[] = {
        {tls_sslv3, SSL_OP_NO_SSLv3},  {tls_v1, SSL_OP_NO_TLSv1},     {tls_v1_1, SSL_OP_NO_TLSv1_1},
        {tls_v1_2, SSL_OP_NO_TLSv1_2}, {tls_v1_3, SSL_OP_NO_TLSv1_3},
    };
    for (const auto& v : versions) {
        if (protocols & v.bit) {
            SSL_CTX_clear_options(ctx, v.off);
        } else {
            SSL_CTX_set_options(ctx, v.off);
        }
    }
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);

    // (OpenSSL 3 refuses client-initiated renegotiation unless told otherwise.)
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
    if (kernel_offers_ktls()) {
        // OpenSSL hands the receive side to the kernel only when it holds no bytes
        // beyond the handshake, which read-ahead would break.
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    } else {
        // Read whole socket buffers at once instead of a header then a body per record.
        SSL_CTX_set_read_ahead(ctx, 1);
    }
}

}  // namespace tls_detail

namespace {
// Verification never stops the handshake: like nginx, the result is checked afterwards
// (TlsStream::handshake), so the log says why instead of "handshake failure".
int keep_going(int, X509_STORE_CTX*) {
    return 1;
}

bool add_trusted(SSL_CTX* ctx, const std::string& path, std::string& error) {
    std::vector<X509Ptr> certs = tls_detail::load_certificates(path, error);
    if (certs.empty()) return false;
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (const X509Ptr& cert : certs) {
        if (X509_STORE_add_cert(store, cert.get()) == 1) continue;
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
            ERR_GET_REASON(e) == X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            ERR_clear_error();  // the same CA listed twice is harmless
            continue;
        }
        error = ssl_error_text("X509_STORE_add_cert(\"" + path + "\") failed");
        return false;
    }
    return true;
}
}  // namespace

SslCtxPtr make_client_context(const TlsClientSettings& settings, std::string& error) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        error = ssl_error_text("SSL_CTX_new() failed");
        return nullptr;
    }
    tls_detail::set_common_options(ctx.get(), settings.protocols);
    if (SSL_CTX_set_cipher_list(ctx.get(), settings.ciphers.c_str()) == 0) {
        error = ssl_error_text("SSL_CTX_set_cipher_list(\"" + settings.ciphers + "\") failed");
        return nullptr;
    }
    if (settings.verify) {
        if (settings.trusted_certificate.empty()) {
            error = "no proxy_ssl_trusted_certificate for proxy_ssl_verify";
            return nullptr;
        }
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, keep_going);
        SSL_CTX_set_verify_depth(ctx.get(), settings.verify_depth);
        if (!add_trusted(ctx.get(), settings.trusted_certificate, error)) return nullptr;
    }
    if (settings.session_reuse) {
        // Sessions go to the connection's TlsClientOptions::save_session as they arrive
        // (TLS 1.3 tickets come after the handshake), not to an internal cache: the
        // caller keeps one per peer per worker.
        SSL_CTX_set_session_cache_mode(ctx.get(),
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx.get(), tls_detail::on_new_client_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    }
    return ctx;
}

FirstByte probe_first_byte(int fd, int& err) {
    unsigned char byte = 0;
    ssize_t n;
    do {
        n = ::recv(fd, &byte, 1, MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    err = 0;
    if (n == 1) return (byte == 0x16 || (byte & 0x80)) ? FirstByte::tls : FirstByte::plain;
    if (n == 0) return FirstByte::closed;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return FirstByte::again;
    err = errno;
    return FirstByte::error;
}

bool kernel_offers_ktls() {
#ifdef OPENSSL_NO_KTLS
    return false;
#else
    static const bool offered = [] {
        std::ifstream in("/proc/sys/net/ipv4/tcp_available_ulp");
        std::string name;
        while (in >> name) {
            if (name == "tls") return true;
        }
        return false;
    }();
    return offered;
#endif
}

}  // namespace ferry::core
