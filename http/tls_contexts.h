// The TLS contexts a configuration needs, built from its conf/ model: one per TLS server
// block and one per location whose proxy_pass is https://. Runtime::build (start-up,
// reload and `ferry -t`) builds them through these functions; they are apart from
// Runtime so that the TLS fuzz target (tests/fuzz/conf_tls_fuzz.cpp) runs exactly this
// path without resolving host names or opening log files.
#pragma once

#include "conf/diagnostic.h"
#include "conf/model.h"
#include "core/tls.h"

namespace ferry::http {

// The core settings of a server block's ssl_* directives, and of a location's
// proxy_ssl_* directives.
core::TlsServerSettings tls_server_settings(const conf::SslConf& ssl);
core::TlsClientSettings tls_client_settings(const conf::ProxyConf& proxy);

// The context of a server block's ssl_* settings. Null + an [emerg] diagnostic at the
// first ssl_certificate on failure.
core::SslCtxPtr server_tls_context(const conf::SslConf& ssl, conf::Diagnostics& diags);

// The client context of a location with proxy_pass https://. Sets `ctx` (left null for
// any other location) and returns false + a diagnostic at the proxy_pass on failure.
bool upstream_tls_context(const conf::LocationConf& loc, core::SslCtxPtr& ctx,
                          conf::Diagnostics& diags);

}  // namespace ferry::http
