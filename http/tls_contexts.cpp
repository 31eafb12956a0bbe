#include "http/tls_contexts.h"

#include <utility>

namespace ferry::http {

namespace {

conf::Diagnostic emerg_at(const conf::SourceLoc& loc, std::string message) {
    conf::Diagnostic d;
    d.level = conf::LogLevel::emerg;
    d.message = std::move(message);
    d.loc = loc;
    return d;
}

uint8_t tls_protocols(uint8_t ssl_protocols) {
    static constexpr std::pair<uint8_t, uint8_t> bits[] = {
        {conf::ssl_sslv3, core::tls_sslv3},  {conf::ssl_tlsv1, core::tls_v1},
        {conf::ssl_tlsv1_1, core::tls_v1_1}, {conf::ssl_tlsv1_2, core::tls_v1_2},
        {conf::ssl_tlsv1_3, core::tls_v1_3},
    };
    uint8_t out = 0;
    for (const auto& [from, to] : bits) {
        if (ssl_protocols & from) out |= to;
    }
    return out;
}

core::TlsServerSettings::SessionCache session_cache(conf::SslConf::SessionCache cache) {
    using Core = core::TlsServerSettings::SessionCache;
    switch (cache) {
        case conf::SslConf::SessionCache::off:
            return Core::off;
        case conf::SslConf::SessionCache::builtin:
            return Core::builtin;
        case conf::SslConf::SessionCache::shared:
            return Core::shared;
        case conf::SslConf::SessionCache::none:
            break;
    }
    return Core::none;
}

}  // namespace

core::TlsServerSettings tls_server_settings(const conf::SslConf& ssl) {
    core::TlsServerSettings s;
    for (const conf::SslCertificate& pair : ssl.certificates)
        s.certificates.push_back({pair.certificate, pair.key});
    s.protocols = tls_protocols(ssl.protocols);
    s.ciphers = ssl.ciphers;
    s.prefer_server_ciphers = ssl.prefer_server_ciphers;
    s.session_cache = session_cache(ssl.session_cache);
    s.session_cache_size = ssl.session_cache_size;
    s.session_timeout_ms = ssl.session_timeout;
    s.session_tickets = ssl.session_tickets;
    s.dhparam = ssl.dhparam;
    s.ecdh_curve = ssl.ecdh_curve;
    return s;
}

core::TlsClientSettings tls_client_settings(const conf::ProxyConf& proxy) {
    core::TlsClientSettings s;
    s.protocols = tls_protocols(proxy.ssl_protocols);
    s.ciphers = proxy.ssl_ciphers;
    s.verify = proxy.ssl_verify;
    s.trusted_certificate = proxy.ssl_trusted_certificate;
    s.verify_depth = proxy.ssl_verify_depth;
    s.session_reuse = proxy.ssl_session_reuse;
    return s;
}

core::SslCtxPtr server_tls_context(const conf::SslConf& ssl, conf::Diagnostics& diags) {
    std::string error;
    core::SslCtxPtr ctx = core::make_server_context(tls_server_settings(ssl), error);
    if (!ctx) {
        const conf::SourceLoc& at = ssl.certificates.empty() ? ssl.loc : ssl.certificates[0].loc;
        diags.push_back(emerg_at(at, error));
    }
    return ctx;
}

bool upstream_tls_context(const conf::LocationConf& loc, core::SslCtxPtr& ctx,
                          conf::Diagnostics& diags) {
    ctx.reset();
    if (!loc.proxy_pass || loc.proxy_pass->scheme != conf::ProxyPass::Scheme::https) return true;
    std::string error;
    ctx = core::make_client_context(tls_client_settings(loc.proxy), error);
    if (!ctx) {
        diags.push_back(emerg_at(loc.proxy_pass->loc, error));
        return false;
    }
    return true;
}

}  // namespace ferry::http
