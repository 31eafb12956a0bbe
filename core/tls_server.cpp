// Server contexts: certificates, protocols, ciphers, session cache and tickets, DH and
// curves, ALPN, and SNI switching between the contexts of one listening socket.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>

#include <cstring>

#include "core/tls.h"
#include "core/tls_internal.h"

namespace ferry::core {

namespace {

using tls_detail::load_certificates;
using tls_detail::load_private_key;

std::string quoted_call(const char* call, const std::string& arg) {
    return std::string(call) + "(\"" + arg + "\") failed";
}

// The chain file's first certificate is the server's, the rest is sent after it. Returns
// the leaf (owned: a later pair of the same key type replaces it in the context, which
// then drops its reference), or null with `error`.
X509Ptr use_certificate(SSL_CTX* ctx, const TlsServerSettings::Pair& pair, std::string& error) {
    std::vector<X509Ptr> certs = load_certificates(pair.certificate, error);
    if (certs.empty()) return nullptr;
    if (SSL_CTX_use_certificate(ctx, certs[0].get()) == 0) {
        error = ssl_error_text(quoted_call("SSL_CTX_use_certificate", pair.certificate));
        return nullptr;
    }
    STACK_OF(X509)* chain = sk_X509_new_null();
    for (size_t i = 1; chain && i < certs.size(); i++)
        sk_X509_push(chain, certs[i].get());
    // set1 takes its own references; the stack only borrows ours.
    bool chained = chain && SSL_CTX_set1_chain(ctx, chain) == 1;
    sk_X509_free(chain);
    if (!chained) {
        error = ssl_error_text(quoted_call("SSL_CTX_set0_chain", pair.certificate));
        return nullptr;
    }
    EvpPkeyPtr key = load_private_key(pair.key, error);
    if (!key) return nullptr;
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) == 0) {
        error = ssl_error_text(quoted_call("SSL_CTX_use_PrivateKey", pair.key));
        return nullptr;
    }
    // OpenSSL only compares a key with a certificate of the same key type; a key of
    // another type (an EC key for an RSA certificate) would pass and fail every
    // handshake later, so check the pair now.
    if (SSL_CTX_check_private_key(ctx) != 1) {
        error = ssl_error_text(quoted_call("SSL_CTX_check_private_key", pair.key));
        return nullptr;
    }
    return std::move(certs[0]);
}

bool use_dhparam(SSL_CTX* ctx, const std::string& path, std::string& error) {
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        error = ssl_error_text(quoted_call("BIO_new_file", path));
        return false;
    }
    EvpPkeyPtr dh(PEM_read_bio_Parameters(bio.get(), nullptr));
    if (!dh) {
        error = ssl_error_text(quoted_call("PEM_read_bio_Parameters", path));
        return false;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh.get()) != 1) {
        error = ssl_error_text(quoted_call("SSL_CTX_set0_tmp_dh_pkey", path));
        return false;
    }
    dh.release();  // the context owns it now
    return true;
}

// Sessions resume only on the server block that made them: the id context is a digest
// of the block's certificates.
bool set_session_id_context(SSL_CTX* ctx, const std::vector<X509Ptr>& certs, std::string& error) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> dg(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    bool ok = dg && EVP_DigestInit_ex(dg.get(), EVP_sha256(), nullptr) == 1 &&
              EVP_DigestUpdate(dg.get(), "HTTP", 4) == 1;
    for (const X509Ptr& cert : certs) {
        unsigned char cmd[EVP_MAX_MD_SIZE];
        unsigned int cmd_len = 0;
        ok = ok && X509_digest(cert.get(), EVP_sha256(), cmd, &cmd_len) == 1 &&
             EVP_DigestUpdate(dg.get(), cmd, cmd_len) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(dg.get(), md, &md_len) == 1 &&
         SSL_CTX_set_session_id_context(ctx, md, md_len) == 1;
    if (!ok) error = ssl_error_text("SSL_CTX_set_session_id_context() failed");
    return ok;
}

void set_session_cache(SSL_CTX* ctx, const TlsServerSettings& settings) {
    using Cache = TlsServerSettings::SessionCache;
    SSL_CTX_set_timeout(ctx, static_cast<long>(settings.session_timeout_ms / 1000));
    if (!settings.session_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    switch (settings.session_cache) {
        case Cache::off:
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            return;
        case Cache::none:
            // Claims to cache (some clients misbehave when a server says it never
            // resumes) but stores nothing: nginx's default.
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
                                                    SSL_SESS_CACHE_NO_AUTO_CLEAR |
                                                    SSL_SESS_CACHE_NO_INTERNAL_STORE);
            SSL_CTX_sess_set_cache_size(ctx, 1);
            return;
        case Cache::builtin:
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
            if (settings.session_cache_size > 0) {
                SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(settings.session_cache_size));
            }
            return;
        case Cache::shared: {
            // nginx: "one megabyte of the cache contains about 4000 sessions".
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
            uint64_t sessions = settings.session_cache_size * 4000 / (1024 * 1024);
            if (settings.session_cache_size > 0) {
                SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(sessions ? sessions : 1));
            }
            return;
        }
    }
}

// ALPN: HTTP/1.x only, in nginx's order. A client that offers only protocols we do not
// speak (h2 alone) gets a no_application_protocol alert, as from nginx >= 1.21.4.
const unsigned char kAlpnProtocols[] = "\x08http/1.1\x08http/1.0\x08http/0.9";

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, kAlpnProtocols, sizeof kAlpnProtocols - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

SslCtxPtr make_server_context(const TlsServerSettings& settings, std::string& error) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        error = ssl_error_text("SSL_CTX_new() failed");
        return nullptr;
    }
    SSL_CTX* c = ctx.get();
    tls_detail::set_common_options(c, settings.protocols);
    if (SSL_CTX_set_cipher_list(c, settings.ciphers.c_str()) == 0) {
        error = ssl_error_text(quoted_call("SSL_CTX_set_cipher_list", settings.ciphers));
        return nullptr;
    }
    if (settings.prefer_server_ciphers) SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);

    // Every pair loaded counts in the session id context, a replaced one too (as in
    // nginx), so the leaves are kept alive here until it is computed.
    std::vector<X509Ptr> leaves;
    for (const TlsServerSettings::Pair& pair : settings.certificates) {
        X509Ptr leaf = use_certificate(c, pair, error);
        if (!leaf) return nullptr;
        leaves.push_back(std::move(leaf));
    }
    if (!settings.dhparam.empty() && !use_dhparam(c, settings.dhparam, error)) return nullptr;
    if (settings.ecdh_curve != "auto" &&
        SSL_CTX_set1_curves_list(c, settings.ecdh_curve.c_str()) == 0) {
        error = ssl_error_text(quoted_call("SSL_CTX_set1_curves_list", settings.ecdh_curve));
        return nullptr;
    }
    if (!set_session_id_context(c, leaves, error)) return nullptr;
    set_session_cache(c, settings);
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
    return ctx;
}

// ---- SNI ----

namespace {

void free_selector(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<SniSelector*>(ptr);
}

int selector_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_selector);
    return index;
}

// The server_name extension holds a list; like nginx (and RFC 6066 in practice) we take
// exactly one host_name entry. Returns false with the alert to send on a bad one.
bool parse_server_name(const unsigned char* p, size_t len, std::string_view& name, int& alert) {
    if (len < 5 || size_t(p[0] << 8 | p[1]) + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name ||
        size_t(p[3] << 8 | p[4]) + 5 != len) {
        alert = SSL_AD_DECODE_ERROR;
        return false;
    }
    name = std::string_view(reinterpret_cast<const char*>(p + 5), len - 5);
    if (name.size() > TLSEXT_MAXLEN_host_name || name.find('\0') != std::string_view::npos) {
        alert = SSL_AD_UNRECOGNIZED_NAME;
        return false;
    }
    return true;
}

// SSL_set_SSL_CTX swaps certificates (and the ALPN and cipher lists, read from the
// current context); options and verification were copied at SSL_new and are copied
// again so the chosen server's protocols and tickets setting apply.
bool switch_context(SSL* ssl, SSL_CTX* ctx) {
    if (!SSL_set_SSL_CTX(ssl, ctx)) return false;
    uint64_t wanted = SSL_CTX_get_options(ctx);
    SSL_clear_options(ssl, SSL_get_options(ssl) & ~wanted);
    SSL_set_options(ssl, wanted);
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
    return true;
}

// Runs before the version and cipher are chosen, so it is where the server is picked.
int on_client_hello(SSL* ssl, int* alert, void* arg) {
    const auto& select = *static_cast<const SniSelector*>(arg);
    std::string_view name;
    const unsigned char* ext = nullptr;
    size_t ext_len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) == 1 &&
        !parse_server_name(ext, ext_len, name, *alert)) {
        return SSL_CLIENT_HELLO_ERROR;
    }
    SniChoice choice = select(name);
    if (choice.reject) {
        tls_detail::mark_sni_rejected(ssl);
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (choice.ctx && choice.ctx != SSL_get_SSL_CTX(ssl) && !switch_context(ssl, choice.ctx)) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

// The server was already picked; accepting the name lets OpenSSL keep it in TLS 1.2
// sessions, so $ssl_server_name still answers after a resumption.
int accept_server_name(SSL*, int*, void*) {
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void set_sni_selector(SSL_CTX* default_ctx, SniSelector select) {
    auto* owned = new SniSelector(std::move(select));
    delete static_cast<SniSelector*>(SSL_CTX_get_ex_data(default_ctx, selector_index()));
    SSL_CTX_set_ex_data(default_ctx, selector_index(), owned);
    SSL_CTX_set_client_hello_cb(default_ctx, on_client_hello, owned);
    SSL_CTX_set_tlsext_servername_callback(default_ctx, accept_server_name);
}

}  // namespace ferry::core
