// Content handlers: what answers a request once its location is chosen and access was
// granted (nginx's content phase). Each location gets one handler when the
// configuration is built (proxying, and later static files, status pages, other
// upstream protocols); a location with none answers 404.
//
// A handler that answers at once (a status page) needs nothing more. One that takes
// time starts a ContentSession, which the client connection then tells what happens on
// its side until the response is done.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace ferry::http {

class ClientConnection;

// Per-request state of a handler that answers over time. The connection owns it while
// the request runs and releases it (after the current loop iteration, as it may be the
// caller) when the response is done or the connection goes away.
class ContentSession {
  public:
    virtual ~ContentSession() = default;

    // Request body spans are ready (ClientConnection::next_body_span()).
    virtual void on_body_available() {}
    // Everything queued toward the client was written.
    virtual void on_client_drained() {}
    // The client half-closed (EPOLLRDHUP) while the session waits on something else.
    virtual void on_client_maybe_closed() {}
    // The connection is going away or the request was finalized otherwise: stop, and
    // touch the connection no more. May be called more than once.
    virtual void on_client_failed() = 0;
    // The upstream's response header lines ($upstream_http_*, $upstream_cookie_*), once
    // its head arrived; null before, or for content that has no upstream.
    virtual const std::vector<HeaderField>* upstream_headers() const { return nullptr; }
    // A byte of the response was queued toward the client.
    virtual bool response_started() const = 0;
    // Gives the session back to whoever made it (a pool or the heap). Called once the
    // connection no longer refers to it; may run inside the session's own callback, so
    // implementations free or reuse it only after the current loop iteration.
    virtual void release() = 0;
};

struct ContentSessionRelease {
    void operator()(ContentSession* s) const { s->release(); }
};
using ContentSessionPtr = std::unique_ptr<ContentSession, ContentSessionRelease>;

// One handler per kind of content, shared by every location of that kind: it reads
// what it needs from the request's location.
class ContentHandler {
  public:
    virtual ~ContentHandler() = default;
    // Answers the request on `c`: responds at once, or attaches a session
    // (c.attach_content()).
    virtual void start(ClientConnection& c) const = 0;
    // Whether the handler reads the request body (else the connection drops it).
    virtual bool reads_body() const = 0;
};

}  // namespace ferry::http

namespace ferry::conf {
struct LocationConf;
}

namespace ferry::http {

// The handler for a location, chosen when the configuration is built (runtime.cpp):
// adding a kind of content adds a line to content.cpp.
const ContentHandler* choose_content(const conf::LocationConf& loc);

}  // namespace ferry::http
