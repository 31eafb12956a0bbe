// UpstreamSession: TLS to the upstream (proxy_pass https://). The connected socket becomes a TLS
// client stream (SNI and the verified name from proxy_ssl_server_name / proxy_ssl_name, a saved
// session offered for resumption), and the handshake runs before the request is sent.
#include <memory>
#include <string>

#include "core/tls_stream.h"
#include "http/connection.h"
#include "http/http_worker.h"
#include "http/upstream_session.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

// Drops a ":port" from the name, as nginx does: it may come from $proxy_host or
// $http_host. In "[v6]:port" the colons inside the brackets are the address's.
void strip_port(std::string& name) {
    size_t from = 0;
    if (!name.empty() && name.front() == '[') {
        size_t bracket = name.find(']');
        if (bracket != std::string::npos) from = bracket;
    }
    size_t colon = name.find(':', from);
    if (colon != std::string::npos) name.resize(colon);
}

// Keeps each session the upstream gives as the peer's, for the next connection to
// offer. It may run long after the request that opened the connection (a TLS 1.3 ticket
// arrives while a response is read, a pooled connection serves many requests), so it
// holds nothing of the session: the worker outlives its connections. After a reload the
// peer belongs to an older configuration, whose sessions the pools have forgotten: the
// session is dropped rather than kept under a stale key.
struct SessionSaver {
    HttpWorker* worker;
    const Runtime* runtime;
    const Peer* peer;

    void operator()(core::SslSessionPtr session) const {
        if (worker->runtime().get() != runtime) return;
        worker->upstreams().save_tls_session(peer, std::move(session));
    }
};

}  // namespace

// False on failure (already answered).
bool UpstreamSession::start_tls(const Peer& peer) {
    up_tls_ = nullptr;
    SSL_CTX* ctx = rt_->upstream_tls(*loc_);
    if (!ctx) return true;  // plain http://
    tls_name_.clear();
    if (conf_->ssl_name) {
        RequestVars vars(*c_);
        conf_->ssl_name->evaluate(vars, tls_name_);
    } else {
        tls_name_ = c_->request().proxy_host;
    }
    strip_port(tls_name_);
    core::TlsClientOptions opts;
    if (conf_->ssl_server_name) opts.server_name = tls_name_;
    if (conf_->ssl_verify) opts.verify_name = tls_name_;
    // Sessions are kept per server of an upstream group (not for proxy_pass with
    // variables naming an address: that peer changes from request to request).
    if (conf_->ssl_session_reuse && group_ >= 0) {
        opts.session = w_.upstreams().tls_session(&peer);
        opts.save_session = SessionSaver{&w_, rt_.get(), &peer};
    }
    std::string error;
    auto tls = core::TlsStream::connect(up_->stream->take_fd(), ctx, opts, error);
    if (!tls) {
        fail(Failure::error, 0, error);
        return false;
    }
    up_tls_ = tls.get();
    up_->stream = std::move(tls);
    return true;
}

void UpstreamSession::tls_handshake() {
    core::IoResult r = up_->stream->handshake();
    if (r.status == core::Io::again) {
        if (r.want_read) a_.readable = false;
        if (r.want_write) a_.writable = false;
        return;
    }
    if (r.status != core::Io::ok) {
        fail(Failure::error, 0, up_tls_->error_text());
        return;
    }
    on_connected();
}

}  // namespace ferry::http
