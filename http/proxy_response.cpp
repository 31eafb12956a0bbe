// ProxySession: the response from the upstream. The head is checked and rewritten for
// the client; the body is relayed from the session's read buffer straight into the
// client's write queue (no copy), one buffer at a time, so memory does not grow with
// the body and a slow client slows the upstream down.
#include <fmt/format.h>
#include <llhttp.h>

#include <cerrno>

#include "core/log.h"
#include "http/connection.h"
#include "http/header_rules.h"
#include "http/http_date.h"
#include "http/http_worker.h"
#include "http/proxy.h"
#include "http/proxy_redirect.h"
#include "http/response.h"
#include "http/status.h"
#include "http/variables.h"

namespace ferry::http {

namespace {

bool passes(const conf::ProxyConf& conf, std::string_view name) {
    for (const std::string& h : conf.pass_headers) {
        if (equals_ignore_case(h, name)) return true;
    }
    return false;
}

bool hidden(const conf::ProxyConf& conf, std::string_view name, const HeaderInfo* info) {
    if (passes(conf, name)) return false;
    if (info && info->has(hf_hidden_from_client)) return true;
    for (const std::string& h : conf.hide_headers) {
        if (equals_ignore_case(h, name)) return true;
    }
    return false;
}

}  // namespace

// Reads from the upstream into in_. Returns true if bytes arrived.
bool ProxySession::read_upstream(bool& eof) {
    eof = false;
    // Wait for epoll, unless the TLS stream holds bytes it read ahead: epoll will not
    // report those (see ClientConnection::fill_buffer).
    if (!s_.readable && !up_->stream->has_pending()) return false;
    if (!in_.reserve(1)) return false;
    if (in_.writable_size() == 0) return false;
    core::IoResult r = up_->stream->read(in_.writable(), in_.writable_size());
    if (r.status == core::Io::ok) {
        in_.commit(r.n);
        c_->request().upstream_bytes_received += r.n;
        if (r.drained && !s_.peer_closed) s_.readable = false;
        return true;
    }
    if (r.status == core::Io::again) {
        s_.readable = false;
        return false;
    }
    eof = true;
    if (r.status == core::Io::error) errno = r.err;
    return false;
}

void ProxySession::read_response() {
    if (!up_ || s_.phase == Phase::done) return;
    size_t head_max = conf_->buffer_size;
    for (;;) {
        size_t parse_from = head_reader_.head_start() + s_.parsed_head;
        if (parse_from < in_.end()) {
            size_t consumed = 0;
            ResponseReader::Event ev =
                head_reader_.parse(in_.data(), parse_from, in_.end(), consumed);
            s_.parsed_head += consumed;
            if (ev == ResponseReader::Event::error) {
                fail(Failure::invalid_header, 0,
                     fmt::format("upstream sent invalid header: \"{}\"", head_reader_.error()));
                return;
            }
            if (ev == ResponseReader::Event::head_done) {
                on_response_head();
                return;
            }
        }
        if (in_.end() - head_reader_.head_start() >= head_max) {
            fail(Failure::invalid_header, 0, "upstream sent too big header");
            return;
        }
        bool eof = false;
        if (!read_upstream(eof)) {
            if (eof) {
                fail(Failure::error, 0, "upstream prematurely closed connection");
                return;
            }
            if (!s_.request_sent) return;  // the send timer covers us meanwhile
            w_.loop().timers().arm_lazily(read_timer_, w_.loop().now(), conf_->read_timeout);
            return;
        }
    }
}

void ProxySession::on_response_head() {
    int status = head_reader_.status();
    if (status >= 100 && status < 200 && status != 101) {
        // An interim response (100 Continue, 103 Early Hints): skip it, read the next.
        size_t next = head_reader_.head_end();
        head_reader_.begin(next);
        s_.parsed_head = 0;
        read_response();
        return;
    }
    s_.status = status;
    s_.header_ms = w_.loop().now() - s_.connect_start_ms;
    Request& r = c_->request();
    // A head must fit proxy_buffer_size, as in nginx, even when it came in one read.
    if (head_reader_.head_end() - head_reader_.head_start() > conf_->buffer_size) {
        fail(Failure::invalid_header, 0, "upstream sent too big header");
        return;
    }
    if (retry_on_status(status)) return;
    if (status == 101) {
        if (!(r.upgrade && s_.sent_upgrade && conf_->http_version == 11)) {
            fail(Failure::upgrade_refused, 0,
                 "upstream sent \"101 Switching Protocols\" to a request that did not ask to "
                 "upgrade");
            return;
        }
        start_upgrade();
        return;
    }
    // How the body is framed.
    bool chunked = false;
    int64_t length = -1;
    bool close = head_reader_.http_minor() == 0;
    for (const HeaderField& h : head_reader_.headers()) {
        const HeaderInfo* info = lookup_header(h.name);
        if (!info) continue;
        if (info->id == KnownHeader::transfer_encoding) {
            if (parse_transfer_encoding(h.value) != TransferCoding::chunked) {
                fail(Failure::invalid_header, 0, "upstream sent unknown \"Transfer-Encoding\"");
                return;
            }
            chunked = true;
        } else if (info->id == KnownHeader::content_length) {
            auto n = parse_content_length(h.value);
            if (!n || (length >= 0 && *n != length)) {
                fail(Failure::invalid_header, 0, "upstream sent invalid \"Content-Length\" header");
                return;
            }
            length = *n;
        } else if (info->id == KnownHeader::connection) {
            uint8_t opts = parse_connection(h.value);
            if (opts & co_close) close = true;
            if (opts & co_keep_alive) close = false;
        }
    }
    if (chunked && length >= 0) {
        fail(Failure::invalid_header, 0,
             "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time");
        return;
    }
    bool no_body = r.head_only || status == 204 || status == 304;
    if (no_body) {
        s_.framing = Framing::none;
    } else if (chunked) {
        s_.framing = Framing::chunked;
        decoder_ = ChunkedDecoder();
    } else if (length >= 0) {
        s_.framing = Framing::length;
        s_.remaining = static_cast<uint64_t>(length);
    } else {
        s_.framing = Framing::close;
    }
    s_.upstream_keepalive = !close && s_.framing != Framing::close && conf_->http_version == 11 &&
                            group_ >= 0 && !rt_->upstream(group_).conf->implicit;
    r.status = status;
    write_client_head();
    s_.phase = Phase::body;
    s_.response_started = true;
    // Keep the head for $upstream_http_* (in_ is reused for the body), then start the
    // body with the bytes that came after the head.
    keep_head();
    in_.consume(head_reader_.head_end() - in_.start());
    // No body, or an empty one (Content-Length: 0): the response is complete with its
    // head; waiting for body bytes would hang a kept-alive upstream until a timeout.
    if (s_.framing == Framing::none || (s_.framing == Framing::length && s_.remaining == 0))
        s_.body_done = true;
    relay_body();
}

// proxy_next_upstream http_500|502|503|504|403|404|429: such an answer goes to the
// next server while one is left (5xx count as the server's failures, 403/404 do not,
// as in nginx); the last server's answer is passed on as it is. True if retried.
bool ProxySession::retry_on_status(int status) {
    static constexpr std::pair<int, uint16_t> kStatuses[] = {
        {500, conf::nu_http_500}, {502, conf::nu_http_502}, {503, conf::nu_http_503},
        {504, conf::nu_http_504}, {403, conf::nu_http_403}, {404, conf::nu_http_404},
        {429, conf::nu_http_429}};
    uint16_t bit = 0;
    for (const auto& [code, flag] : kStatuses) {
        if (code == status) bit = flag;
    }
    if (!bit || !(conf_->next_upstream & bit) || !can_retry(Failure::http_status)) return false;
    log_upstream_error(conf::LogLevel::warn,
                       fmt::format("upstream sent \"{}\" status, trying the next one", status));
    record_upstream(status);
    if (group_ >= 0 && status >= 500) w_.upstreams().failed(*rt_, group_, choice_);
    s_.status = 0;
    close_upstream(false);
    connect_next();
    return true;
}

// Location: rewritten by proxy_redirect, then made absolute (absolute_redirect).
void ProxySession::append_location(std::string_view value, core::Buffer& out) {
    thread_local std::string rewritten, absolute;
    rewritten.clear();
    absolute.clear();
    RequestVars vars(*c_);
    rewrite_redirect(*loc_, value, vars, rewritten);
    c_->append_absolute(rewritten, absolute);
    out.append(absolute);
}

// Refresh: "5; url=/path" gets its URL rewritten like a Location.
void ProxySession::append_refresh(std::string_view value, core::Buffer& out) {
    size_t at = std::string_view::npos;
    for (size_t i = 0; i + 4 <= value.size(); ++i) {
        if (equals_ignore_case(value.substr(i, 4), "url=")) {
            at = i + 4;
            break;
        }
    }
    if (at == std::string_view::npos) {
        out.append(value);
        return;
    }
    out.append(value.substr(0, at));
    thread_local std::string rewritten;
    rewritten.clear();
    RequestVars vars(*c_);
    rewrite_redirect(*loc_, value.substr(at), vars, rewritten);
    out.append(rewritten);
}

void ProxySession::write_client_head() {
    Request& r = c_->request();
    core::Buffer& out = c_->out().own();
    bool http11_client = r.http_minor >= 1;
    // A body of unknown length goes to an HTTP/1.1 client chunked, so the connection
    // can be kept; an HTTP/1.0 client gets it until the close.
    s_.client_chunked = s_.framing == Framing::close && http11_client;
    s_.chunk_pass = s_.framing == Framing::chunked && http11_client;
    bool keepalive = s_.framing != Framing::close || s_.client_chunked;
    if (s_.framing == Framing::chunked && !http11_client) keepalive = false;

    out.append("HTTP/1.1 ");
    append_number(out, static_cast<uint64_t>(s_.status));
    out.append(" ");
    out.append(head_reader_.reason().empty() ? reason_phrase(s_.status) : head_reader_.reason());
    out.append("\r\n");
    // ferry's own Server and Date, unless proxy_pass_header lets the upstream's through.
    if (!passes(*conf_, "server")) {
        out.append("Server: ");
        out.append(server_header());
        out.append("\r\n");
    }
    if (!passes(*conf_, "date")) {
        out.append("Date: ");
        out.append(w_.times().http_date());
        out.append("\r\n");
    }
    // Headers the upstream listed in its Connection header are for that hop only.
    std::string_view up_connection;
    for (const HeaderField& h : head_reader_.headers()) {
        if (equals_ignore_case(h.name, "connection")) up_connection = h.value;
    }
    for (const HeaderField& h : head_reader_.headers()) {
        const HeaderInfo* info = lookup_header(h.name);
        if (info && (info->has(hf_hop_by_hop) || info->id == KnownHeader::content_length ||
                     info->id == KnownHeader::transfer_encoding)) {
            continue;
        }
        if (hidden(*conf_, h.name, info)) continue;
        if (!up_connection.empty() && has_token(up_connection, h.name)) continue;
        out.append(h.name);
        out.append(": ");
        if (info && info->id == KnownHeader::location) {
            append_location(h.value, out);
        } else if (equals_ignore_case(h.name, "refresh")) {
            append_refresh(h.value, out);
        } else {
            out.append(h.value);
        }
        out.append("\r\n");
    }
    if (s_.framing == Framing::length || (s_.framing == Framing::none && r.head_only)) {
        for (const HeaderField& h : head_reader_.headers()) {
            if (equals_ignore_case(h.name, "content-length")) {
                out.append("Content-Length: ");
                out.append(h.value);
                out.append("\r\n");
                break;
            }
        }
    }
    if (s_.chunk_pass || s_.client_chunked) out.append("Transfer-Encoding: chunked\r\n");
    c_->append_add_headers(s_.status, out);
    if (keepalive) c_->append_keepalive_header(out);
    if (!keepalive) c_->set_no_keepalive();
    out.append(keepalive && c_->will_keep_alive() ? "Connection: keep-alive\r\n\r\n"
                                                  : "Connection: close\r\n\r\n");
    r.header_bytes = out.readable_size();
}

// Moves body bytes from in_ to the client queue, reading the upstream when in_ is
// empty, until the client stops taking bytes, the upstream has none, or the body ends.
void ProxySession::relay_body() {
    if (s_.in_relay || s_.phase != Phase::body) return;
    s_.in_relay = true;
    for (;;) {
        // A piece lent to the client queue goes out with the bytes queued before it
        // (the head, chunk framing) in one write; the next waits until it is written.
        if (c_->out().has_borrowed()) {
            c_->send_output();  // reports back via on_client_drained(), which loops here
            if (s_.phase != Phase::body || !c_->out().drained()) break;
        }
        if (s_.pending_consume) {
            in_.consume(s_.pending_consume);
            s_.pending_consume = 0;
        }
        if (s_.body_done) {
            if (!c_->out().drained()) {
                c_->send_output();
                if (s_.phase != Phase::body || !c_->out().drained()) break;
            }
            s_.in_relay = false;
            finish();
            return;
        }
        bool progressed = false;
        if (!next_relay_piece(progressed)) {
            s_.in_relay = false;
            return;  // failed or finished
        }
        if (progressed) continue;
        // in_ holds nothing usable: read more.
        bool eof = false;
        if (!in_.empty()) in_.compact();
        if (read_upstream(eof)) continue;
        if (eof) {
            s_.upstream_eof = true;
            if (s_.framing == Framing::close) {
                s_.body_done = true;
                if (s_.client_chunked) {
                    if (s_.chunk_crlf_due) c_->out().append(chunk_end);
                    c_->out().append(last_chunk);
                }
                continue;
            }
            s_.in_relay = false;
            log_upstream_error(conf::LogLevel::error,
                               "upstream prematurely closed connection while reading upstream");
            record_upstream(s_.status);
            close_upstream(false);
            s_.phase = Phase::done;
            c_->abort_response();
            return;
        }
        // Nothing more for now: what is queued (the head) goes out meanwhile.
        if (!c_->out().drained()) {
            c_->send_output();
            if (s_.phase != Phase::body) break;
        }
        w_.loop().timers().arm_lazily(read_timer_, w_.loop().now(), conf_->read_timeout);
        break;
    }
    s_.in_relay = false;
}

// Queues the next piece of body from in_. `progressed` tells whether anything was
// queued or consumed. Returns false when the session ended (failure).
bool ProxySession::next_relay_piece(bool& progressed) {
    std::string_view avail = in_.view();
    progressed = false;
    if (avail.empty()) return true;
    Request& r = c_->request();
    switch (s_.framing) {
        case Framing::none:
            s_.body_done = true;
            progressed = true;
            return true;
        case Framing::length: {
            size_t n =
                avail.size() < s_.remaining ? avail.size() : static_cast<size_t>(s_.remaining);
            c_->out().borrow(avail.substr(0, n));
            s_.pending_consume = n;
            s_.remaining -= n;
            r.body_bytes_sent += n;
            if (s_.remaining == 0) {
                s_.body_done = true;
                // Bytes past the announced length: the connection is not reusable.
                if (avail.size() > n) s_.upstream_keepalive = false;
            }
            progressed = true;
            return true;
        }
        case Framing::close: {
            if (s_.client_chunked) {
                // A chunk's CRLF follows its data: it goes out with the next chunk's
                // head (the queue writes owned bytes before the borrowed span).
                char header[max_chunk_header_size + 2];
                size_t n = 0;
                if (s_.chunk_crlf_due) {
                    header[n++] = '\r';
                    header[n++] = '\n';
                }
                n += write_chunk_header(avail.size(), header + n);
                c_->out().append(std::string_view(header, n));
                s_.chunk_crlf_due = true;
            }
            c_->out().borrow(avail);
            s_.pending_consume = avail.size();
            r.body_bytes_sent += avail.size();
            progressed = true;
            return true;
        }
        case Framing::chunked:
            break;
    }
    // Chunked: to an HTTP/1.1 client the framing passes through unchanged (the decoder
    // only finds where the body ends); an HTTP/1.0 client gets the data alone.
    if (s_.chunk_pass) {
        size_t total = 0;
        while (total < avail.size()) {
            ChunkedDecoder::Result res = decoder_.decode(avail.substr(total));
            if (res.status == ChunkedDecoder::Status::error) {
                fail_midbody("upstream sent invalid chunked response");
                return false;
            }
            total += res.consumed;
            if (res.status == ChunkedDecoder::Status::done) {
                s_.body_done = true;
                if (total < avail.size()) s_.upstream_keepalive = false;
                break;
            }
            if (res.status == ChunkedDecoder::Status::need_more) break;
            r.body_bytes_sent += res.data.size();
        }
        if (total == 0) return true;
        c_->out().borrow(avail.substr(0, total));
        s_.pending_consume = total;
        progressed = true;
        return true;
    }
    ChunkedDecoder::Result res = decoder_.decode(avail);
    if (res.status == ChunkedDecoder::Status::error) {
        fail_midbody("upstream sent invalid chunked response");
        return false;
    }
    if (res.status == ChunkedDecoder::Status::done) s_.body_done = true;
    if (res.status == ChunkedDecoder::Status::data) {
        c_->out().borrow(res.data);
        r.body_bytes_sent += res.data.size();
    }
    if (res.consumed == 0) return true;
    s_.pending_consume = res.consumed;
    progressed = true;
    return true;
}

void ProxySession::fail_midbody(std::string_view what) {
    log_upstream_error(conf::LogLevel::error, std::string(what) + " while reading upstream");
    record_upstream(s_.status);
    close_upstream(false);
    s_.phase = Phase::done;
    c_->abort_response();
}

void ProxySession::keep_head() {
    size_t start = head_reader_.head_start();
    size_t end = head_reader_.head_end();
    head_copy_.assign(in_.data() + start, end - start);
    head_reader_.rebase(in_.data() + start, head_copy_.data());
}

void ProxySession::on_client_drained() {
    if (s_.phase == Phase::body) relay_body();
}

void ProxySession::append_response_header(bool upstream, std::string_view name, std::string& out) {
    (void)upstream;
    if (s_.status == 0) return;
    for (const HeaderField& h : head_reader_.headers()) {
        if (h.name.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size() && same; ++i) {
            char a = h.name[i] == '-' ? '_' : static_cast<char>(tolower(h.name[i]));
            same = a == name[i];
        }
        if (same) {
            out += h.value;
            return;
        }
    }
}

}  // namespace ferry::http
