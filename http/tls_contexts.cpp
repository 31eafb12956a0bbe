#include "http/tls_contexts.h"

namespace ferry::http {

namespace {

conf::Diagnostic emerg_at(const conf::SourceLoc& loc, std::string message) {
    conf::Diagnostic d;
    d.level = conf::LogLevel::emerg;
    d.message = std::move(message);
    d.loc = loc;
    return d;
}

}  // namespace

core::SslCtxPtr server_tls_context(const conf::SslConf& ssl, conf::Diagnostics& diags) {
    std::string error;
    core::SslCtxPtr ctx = core::make_server_context(ssl, error);
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
    ctx = core::make_client_context(core::client_settings_from(loc.proxy), error);
    if (!ctx) {
        diags.push_back(emerg_at(loc.proxy_pass->loc, error));
        return false;
    }
    return true;
}

}  // namespace ferry::http
