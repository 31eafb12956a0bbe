// libFuzzer target for `ferry -t`'s certificate loading: any bytes, loaded as a
// configuration file whose relative paths resolve into tests/fuzz/certs, and then every
// TLS context it asks for built the way Runtime::build builds them (http/tls_contexts.h):
// server blocks' certificate/key pairs, protocols, ciphers, curves, DH parameters and
// session settings, and https:// upstreams' verification settings. A configuration must
// give contexts or nginx-worded errors, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/loader.h"
#include "http/tls_contexts.h"

namespace {

using namespace ferry;

const std::string& cert_dir() {
    static const std::string dir = std::string(FERRY_FUZZ_CERT_DIR) + "/";
    return dir;
}

// Only files in the certificate folder are opened: an absolute path found by the fuzzer
// could name a FIFO or /dev/zero (a hang, not a bug), and "data:" values, which ferry
// does not support, would be opened relative to the working directory.
bool inside(const std::string& path) {
    return path.empty() || (path.rfind(cert_dir(), 0) == 0 && path.find("/..") == path.npos);
}

bool safe_paths(const conf::SslConf& ssl) {
    for (const conf::SslCertificate& pair : ssl.certificates) {
        if (!inside(pair.certificate) || !inside(pair.key)) return false;
    }
    return inside(ssl.dhparam);
}

void build_upstreams(const conf::LocationConf& loc, conf::Diagnostics& diags) {
    if (inside(loc.proxy.ssl_trusted_certificate)) {
        core::SslCtxPtr ctx;
        http::upstream_tls_context(loc, ctx, diags);
    }
    for (const auto& child : loc.locations)
        build_upstreams(*child, diags);
}

void build_contexts(const conf::HttpConf& http) {
    conf::Diagnostics diags;
    for (const auto& server : http.servers) {
        if (server->ssl && !server->ssl->certificates.empty() && safe_paths(*server->ssl)) {
            core::SslCtxPtr ctx = http::server_tls_context(*server->ssl, diags);
            // As for a listen ... ssl default server; freed with the context.
            if (ctx)
                core::set_sni_selector(ctx.get(),
                                       [](std::string_view) { return core::SniChoice{}; });
        }
        for (const auto& loc : server->locations)
            build_upstreams(*loc, diags);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    conf::LoadOptions options;
    options.prefix = cert_dir();
    options.conf_file = cert_dir() + "fuzz.conf";
    options.conf_text = std::string(reinterpret_cast<const char*>(data), size);
    options.allow_includes = false;
    conf::LoadResult r = conf::load(options);
    if (r.config && r.config->http) build_contexts(*r.config->http);
    return 0;
}
