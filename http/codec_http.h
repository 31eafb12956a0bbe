// proxy_pass: the HTTP/1.x codec. The request head comes from proxy_set_header rules
// and the client's headers minus hop-by-hop ones; a chunked client body is sent
// re-chunked. The response head is read with ResponseReader (interim 1xx heads are
// skipped), and the body is framed by Content-Length, chunked coding or the close.
#pragma once

#include <string>

#include "http/chunked.h"
#include "http/response_reader.h"
#include "http/upstream_codec.h"

namespace ferry::http {

class HttpCodec final : public UpstreamCodec {
  public:
    const conf::ProxyConf& settings(const conf::LocationConf& loc) const override {
        return loc.proxy;
    }
    const conf::ProxyPass& target(const conf::LocationConf& loc) const override {
        return *loc.proxy_pass;
    }
    std::string_view scheme(const conf::LocationConf& loc) const override;

    void begin(UpstreamSession& s) override { s_ = &s; }
    void reset() override;

    int create_request(std::string_view uri, core::Buffer& out) override;
    bool asks_upgrade() const override { return sent_upgrade_; }
    std::string_view frame_body_piece(size_t n, core::Buffer& out) override;
    void end_body(core::Buffer& out) override;

    HeadStatus process_header(const char* buf, size_t from, size_t to, size_t& body_at,
                              std::string& error) override;
    const UpstreamHead& head() const override { return head_; }
    bool can_upgrade() const override;

    bool init_body(bool no_body, std::string& error) override;
    BodyStep next_body(std::string_view in) override;
    bool body_complete() const override { return complete_; }
    bool eof_ends_body() const override { return framing_ == Framing::close; }
    bool keepalive() const override { return keepalive_; }

    void rewrite_location(std::string_view value, std::string& out) override;
    void rewrite_refresh(std::string_view value, std::string& out) override;

  private:
    enum class Framing : uint8_t { none, length, chunked, close };

    void keep_head(const char* buf);

    UpstreamSession* s_ = nullptr;
    ResponseReader reader_;
    ChunkedDecoder decoder_;
    UpstreamHead head_;
    std::string head_copy_;  // the final head's bytes: head_ points here
    size_t head_start_ = 0;
    bool parsing_ = false;  // reader_ was begun for this attempt
    bool sent_upgrade_ = false;
    bool chunking_body_ = false;  // re-chunking a chunked request body
    Framing framing_ = Framing::none;
    uint64_t remaining_ = 0;
    bool complete_ = false;
    bool keepalive_ = false;
};

}  // namespace ferry::http
