#include "http/content_upstream.h"

#include <iterator>

#include "http/connection.h"
#include "http/http_worker.h"
#include "http/upstream_session.h"

namespace ferry::http {

namespace {

class UpstreamContent final : public ContentHandler {
  public:
    explicit UpstreamContent(UpstreamCodec::Kind kind) : kind_(kind) {}

    void start(ClientConnection& c) const override {
        UpstreamSession* s = c.worker().acquire_session();
        s->bind(c, kind_);
        c.attach_content(ContentSessionPtr(s));
        s->start();
    }
    bool reads_body() const override { return true; }

  private:
    UpstreamCodec::Kind kind_;
};

}  // namespace

const ContentHandler& upstream_content(UpstreamCodec::Kind kind) {
    // In UpstreamCodec::Kind order.
    static const UpstreamContent handlers[] = {UpstreamContent(UpstreamCodec::Kind::http)};
    static_assert(std::size(handlers) == static_cast<size_t>(UpstreamCodec::Kind::count_));
    return handlers[static_cast<size_t>(kind)];
}

}  // namespace ferry::http
