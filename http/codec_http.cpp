#include "http/codec_http.h"

#include <fmt/format.h>
#include <llhttp.h>

#include "http/connection.h"
#include "http/header_rules.h"
#include "http/proxy_redirect.h"
#include "http/response.h"
#include "http/upstream_session.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

bool named_in(std::string_view name, const std::vector<conf::HeaderRule>* rules) {
    if (!rules) return false;
    for (const conf::HeaderRule& rule : *rules) {
        if (equals_ignore_case(rule.name, name)) return true;
    }
    return false;
}

// RFC 9110 7.6.1: headers the client listed in Connection are for this hop only.
// (nginx passes them on; ferry does not.)
bool named_in_connection(const Request& r, std::string_view name) {
    for (const HeaderField& h : r.headers) {
        if (equals_ignore_case(h.name, "connection") && has_token(h.value, name)) return true;
    }
    return false;
}

void append_header(core::Buffer& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

}  // namespace

std::string_view HttpCodec::scheme(const conf::LocationConf& loc) const {
    return loc.proxy_pass && loc.proxy_pass->scheme == conf::ProxyPass::Scheme::https ? "https://"
                                                                                      : "http://";
}

void HttpCodec::reset() {
    s_ = nullptr;
    head_ = UpstreamHead{};
    head_copy_.clear();
    parsing_ = false;
    sent_upgrade_ = false;
    chunking_body_ = false;
    framing_ = Framing::none;
    remaining_ = 0;
    complete_ = false;
    keepalive_ = false;
}

// ---- request ----------------------------------------------------------------------

int HttpCodec::create_request(std::string_view uri, core::Buffer& out) {
    ClientConnection& c = s_->client();
    Request& r = c.request();
    const conf::ProxyConf& conf = s_->settings();
    int64_t body_length = s_->body_length();
    parsing_ = false;
    out.append(r.method);
    out.append(" ");
    out.append(uri);
    out.append(conf.http_version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");

    const std::vector<conf::HeaderRule>* rules = conf.set_headers.get();
    RequestVars vars(c);
    thread_local std::string value;
    sent_upgrade_ = false;
    if (!named_in("host", rules)) append_header(out, "Host", r.proxy_host);
    if (rules) {
        for (const conf::HeaderRule& rule : *rules) {
            value.clear();
            rule.value.evaluate(vars, value);
            if (value.empty()) continue;  // an empty value means "do not send"
            append_header(out, rule.name, value);
            if (equals_ignore_case(rule.name, "upgrade")) sent_upgrade_ = true;
        }
    }
    for (const HeaderField& h : r.headers) {
        const HeaderInfo* info = lookup_header(h.name);
        if (info && (info->has(hf_not_forwarded_upstream) || info->has(hf_framing) ||
                     info->id == KnownHeader::host)) {
            continue;
        }
        if (named_in(h.name, rules) || named_in_connection(r, h.name)) continue;
        append_header(out, h.name, h.value);
    }
    // A buffered body has its length, even one that came chunked (nginx re-frames it);
    // a chunked body streamed as it arrives goes chunked.
    chunking_body_ = false;
    if (body_length < 0) {
        out.append("Transfer-Encoding: chunked\r\n");
        chunking_body_ = true;
    } else if (r.content_length >= 0 || r.chunked) {
        if (body_length > 0 || r.method_id == HTTP_POST || r.method_id == HTTP_PUT ||
            r.method_id == HTTP_PATCH) {
            out.append("Content-Length: ");
            append_number(out, static_cast<uint64_t>(body_length));
            out.append("\r\n");
        }
    }
    out.append("\r\n");
    return 0;
}

// A chunk's CRLF goes out with the next chunk's size line (or the last chunk), so that
// each piece costs one framing append.
// A chunk goes out whole, its closing CRLF with it (an upstream may wait for it).
std::string_view HttpCodec::frame_body_piece(size_t n, core::Buffer& out) {
    if (!chunking_body_) return {};
    char header[max_chunk_header_size];
    out.append(std::string_view(header, write_chunk_header(n, header)));
    return chunk_end;
}

void HttpCodec::end_body(core::Buffer& out) {
    if (chunking_body_) out.append(last_chunk);
}

// ---- response head ----------------------------------------------------------------

HttpCodec::HeadStatus HttpCodec::process_header(const char* buf, size_t from, size_t to,
                                                size_t& body_at, std::string& error) {
    if (!parsing_) {
        reader_.begin(from);
        head_start_ = from;
        parsing_ = true;
    }
    size_t limit = s_->settings().buffer_size;
    while (from < to) {
        size_t consumed = 0;
        ResponseReader::Event ev = reader_.parse(buf, from, to, consumed);
        from += consumed;
        if (ev == ResponseReader::Event::error) {
            error = "upstream sent invalid header: \"";
            error += reader_.error();
            error += '"';
            return HeadStatus::error;
        }
        if (ev == ResponseReader::Event::need_more) break;
        // A head must fit proxy_buffer_size, as in nginx, even when it came in one read.
        if (reader_.head_end() - head_start_ > limit) {
            error = "upstream sent too big header";
            return HeadStatus::error;
        }
        int status = reader_.status();
        if (status >= 100 && status < 200 && status != 101) {
            // An interim response (100 Continue, 103 Early Hints): skip it.
            head_start_ = reader_.head_end();
            reader_.begin(head_start_);
            continue;
        }
        body_at = reader_.head_end();
        keep_head(buf);
        return HeadStatus::done;
    }
    if (to - head_start_ >= limit) {
        error = "upstream sent too big header";
        return HeadStatus::error;
    }
    return HeadStatus::need_more;
}

// The session reuses its buffer for the body: the head is copied so that its views
// (for the client's head and $upstream_http_*) stay valid for the whole request.
void HttpCodec::keep_head(const char* buf) {
    size_t start = head_start_;
    size_t end = reader_.head_end();
    head_copy_.assign(buf + start, end - start);
    reader_.rebase(buf + start, head_copy_.data());
    head_.status = reader_.status();
    head_.reason = reader_.reason();
    head_.http_minor = reader_.http_minor();
    head_.headers.assign(reader_.headers().begin(), reader_.headers().end());
    head_.content_length = -1;
}

bool HttpCodec::can_upgrade() const {
    return s_->client().request().upgrade && sent_upgrade_ && s_->settings().http_version == 11;
}

// ---- response body ----------------------------------------------------------------

bool HttpCodec::init_body(bool no_body, std::string& error) {
    bool chunked = false;
    int64_t length = -1;
    // A 101 that is not an upgrade leaves the connection in an unknown protocol.
    bool close = head_.http_minor == 0 || head_.status == 101;
    const HeaderField* transfer_encoding = nullptr;
    for (const HeaderField& h : head_.headers) {
        const HeaderInfo* info = lookup_header(h.name);
        if (!info) continue;
        if (info->id == KnownHeader::transfer_encoding) {
            if (transfer_encoding) {
                error = fmt::format(
                    "upstream sent duplicate header line: \"{}: {}\", previous value: \"{}: {}\"",
                    h.name, h.value, transfer_encoding->name, transfer_encoding->value);
                return false;
            }
            transfer_encoding = &h;
            if (parse_transfer_encoding(h.value) != TransferCoding::chunked) {
                error = "upstream sent unknown \"Transfer-Encoding\"";
                return false;
            }
            chunked = true;
        } else if (info->id == KnownHeader::content_length) {
            auto n = parse_content_length(h.value);
            if (!n || (length >= 0 && *n != length)) {
                error = "upstream sent invalid \"Content-Length\" header";
                return false;
            }
            length = *n;
        } else if (info->id == KnownHeader::connection) {
            uint8_t opts = parse_connection(h.value);
            if (opts & co_close) close = true;
            if (opts & co_keep_alive) close = false;
        }
    }
    if (chunked && length >= 0) {
        error =
            "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time";
        return false;
    }
    // A HEAD response keeps its length for the client; the framing says there is none.
    head_.content_length = chunked ? -1 : length;
    complete_ = false;
    if (no_body) {
        framing_ = Framing::none;
        complete_ = true;
    } else if (chunked) {
        framing_ = Framing::chunked;
        decoder_ = ChunkedDecoder();
    } else if (length >= 0) {
        framing_ = Framing::length;
        remaining_ = static_cast<uint64_t>(length);
        complete_ = remaining_ == 0;
    } else {
        framing_ = Framing::close;
    }
    keepalive_ = !close && framing_ != Framing::close && s_->settings().http_version == 11;
    return true;
}

BodyStep HttpCodec::next_body(std::string_view in) {
    BodyStep step;
    if (complete_) {
        step.status = BodyStep::Status::done;
        // Bytes past the end of the body: the connection is not reusable.
        if (!in.empty()) keepalive_ = false;
        return step;
    }
    switch (framing_) {
        case Framing::none:
            complete_ = true;
            step.status = BodyStep::Status::done;
            return step;
        case Framing::length: {
            size_t n = in.size() < remaining_ ? in.size() : static_cast<size_t>(remaining_);
            remaining_ -= n;
            complete_ = remaining_ == 0;
            if (complete_ && in.size() > n) keepalive_ = false;
            step.status = BodyStep::Status::data;
            step.data = in.substr(0, n);
            step.consumed = n;
            return step;
        }
        case Framing::close:
            step.status = BodyStep::Status::data;
            step.data = in;
            step.consumed = in.size();
            return step;
        case Framing::chunked:
            break;
    }
    ChunkedDecoder::Result res = decoder_.decode(in);
    step.consumed = res.consumed;
    switch (res.status) {
        case ChunkedDecoder::Status::error:
            step.status = BodyStep::Status::error;
            step.error = "upstream sent invalid chunked response";
            return step;
        case ChunkedDecoder::Status::done:
            complete_ = true;
            if (res.consumed < in.size()) keepalive_ = false;
            step.status = BodyStep::Status::done;
            return step;
        case ChunkedDecoder::Status::data:
            step.status = BodyStep::Status::data;
            step.data = res.data;
            return step;
        case ChunkedDecoder::Status::need_more:
            step.status = BodyStep::Status::need_more;
            return step;
    }
    return step;
}

// ---- headers toward the client ------------------------------------------------------

void HttpCodec::rewrite_location(std::string_view value, std::string& out) {
    RequestVars vars(s_->client());
    rewrite_redirect(s_->location(), value, vars, out);
}

// Refresh: "5; url=/path" gets its URL rewritten like a Location.
void HttpCodec::rewrite_refresh(std::string_view value, std::string& out) {
    size_t at = std::string_view::npos;
    for (size_t i = 0; i + 4 <= value.size(); ++i) {
        if (equals_ignore_case(value.substr(i, 4), "url=")) {
            at = i + 4;
            break;
        }
    }
    if (at == std::string_view::npos) {
        out += value;
        return;
    }
    out += value.substr(0, at);
    RequestVars vars(s_->client());
    rewrite_redirect(s_->location(), value.substr(at), vars, out);
}

}  // namespace ferry::http
