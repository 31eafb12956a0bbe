#include "http/request_reader.h"

#include <cstdint>
#include <cstring>

#include "http/header_rules.h"

namespace ferry::http {

namespace {

// Whether the request line in `p` ends with "HTTP/<major>" where major > 1.
bool major_version_above_one(const char* p, size_t n) {
    std::string_view line(p, n);
    size_t eol = line.find('\n');
    if (eol != std::string_view::npos) line = line.substr(0, eol);
    size_t at = line.rfind(" HTTP/");
    if (at == std::string_view::npos) return false;
    unsigned major = 0;
    size_t i = at + 6;
    if (i >= line.size() || line[i] < '0' || line[i] > '9') return false;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9' && major < 1000) {
        major = major * 10 + static_cast<unsigned>(line[i++] - '0');
    }
    return major > 1;
}

const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        return st;
    }();
    return s;
}

}  // namespace

RequestReader::RequestReader() {
    static llhttp_settings_t s = [] {
        llhttp_settings_t st = settings();
        st.on_message_begin = &RequestReader::on_message_begin;
        st.on_method = &RequestReader::on_method;
        st.on_url = &RequestReader::on_url;
        st.on_url_complete = &RequestReader::on_url_complete;
        st.on_version_complete = &RequestReader::on_version_complete;
        st.on_header_field = &RequestReader::on_header_field;
        st.on_header_value = &RequestReader::on_header_value;
        st.on_header_value_complete = &RequestReader::on_header_value_complete;
        st.on_headers_complete = &RequestReader::on_headers_complete;
        st.on_body = &RequestReader::on_body;
        st.on_chunk_header = &RequestReader::on_chunk_header;
        st.on_message_complete = &RequestReader::on_message_complete;
        return st;
    }();
    llhttp_init(&parser_, HTTP_REQUEST, &s);
    parser_.data = this;
}

void RequestReader::begin(Request& req, size_t offset, const HeadLimits& limits) {
    llhttp_reset(&parser_);
    parser_.data = this;
    // ferry checks the version itself to answer 505 for HTTP/2.0+ as nginx does.
    parser_.lenient_flags |= LENIENT_VERSION;
    // nginx takes bare LF line ends and control bytes (but NUL) in values, which
    // llhttp's strict mode refuses; ferry refuses NUL, CR and obs-fold itself.
    llhttp_set_lenient_headers(&parser_, 1);
    req_ = &req;
    fields_ = HeaderSpans(req.spans);
    fields_.clear();
    limits_ = limits;
    start_ = offset;
    head_end_ = 0;
    line_start_ = offset;
    method_off_ = method_len_ = url_off_ = url_len_ = 0;
    in_head_ = true;
    url_done_ = false;
    head_paused_ = false;
    message_complete_ = false;
    error_status_ = 0;
    last_byte_ = prev_last_byte_ = 0;
    error_reason_ = "";
    spans_.clear();
}

RequestReader::Event RequestReader::fail(int status, const char* reason) {
    error_status_ = status;
    error_reason_ = reason;
    return Event::error;
}

// Limits that can only be judged on an incomplete head: a request line or header line
// that has not ended yet but is already too long.
RequestReader::Event RequestReader::check_limits(size_t parsed_to) {
    if (!in_head_) return Event::need_more;
    if (!url_done_ && parsed_to - start_ > limits_.line_max) {
        return fail(414, "client sent too long URI");
    }
    if (url_done_ && parsed_to - line_start_ > limits_.line_max) {
        return fail(494, "client sent too long header line");
    }
    if (parsed_to - start_ >= limits_.head_max) {
        return url_done_ ? fail(494, "client sent too large request")
                         : fail(414, "client sent too long URI");
    }
    return Event::need_more;
}

RequestReader::Event RequestReader::parse(const char* buf, size_t from, size_t to,
                                          size_t& consumed) {
    base_ = buf;
    consumed = 0;
    // Out of the head, parse even with no new bytes: a request without a body
    // completes without consuming anything after its head.
    if (from == to && in_head_) return Event::need_more;
    if (error_status_) return Event::error;
    size_t body_spans_before = spans_.size();
    char prev_last_byte = last_byte_;
    if (to > from) last_byte_ = buf[to - 1];
    prev_last_byte_ = prev_last_byte;
    llhttp_errno_t err = llhttp_execute(&parser_, buf + from, to - from);
    if (error_status_) return Event::error;  // a callback refused the input
    if (err != HPE_OK && err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE && in_head_) {
        // nginx judges Transfer-Encoding before anything llhttp may have tripped on.
        int status = coding_status(buf, to);
        if (status == 400) return fail(400, "client sent duplicate header line");
        if (status == 501) return fail(501, "client sent unknown \"Transfer-Encoding\"");
    }
    switch (err) {
        case HPE_OK:
            consumed = to - from;
            if (spans_.size() != body_spans_before) return Event::body;
            return check_limits(to);
        case HPE_PAUSED:
        case HPE_PAUSED_UPGRADE: {
            consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - (buf + from));
            if (err == HPE_PAUSED) {
                llhttp_resume(&parser_);
            } else {
                llhttp_resume_after_upgrade(&parser_);
                message_complete_ = true;
            }
            if (head_paused_) {
                head_paused_ = false;
                head_end_ = from + consumed;
                finish_head(buf);
                return Event::head_done;
            }
            if (message_complete_) {
                // llhttp takes a bare LF after the last chunk; nginx wants CRLF.
                size_t end = from + consumed;
                // The CR may have come with the previous read, whose bytes may be gone.
                char before_lf = end >= from + 2 ? buf[end - 2] : prev_last_byte_;
                if ((parser_.flags & F_CHUNKED) && before_lf != '\r') {
                    return fail(400, "client sent invalid chunked body");
                }
                return Event::message_done;
            }
            return spans_.size() != body_spans_before ? Event::body : Event::need_more;
        }
        case HPE_UNEXPECTED_CONTENT_LENGTH: {
            // llhttp reports a second Content-Length and one beside Transfer-Encoding
            // alike; its reason tells them apart.
            const char* why = llhttp_get_error_reason(&parser_);
            if (why && std::strncmp(why, "Duplicate", 9) == 0) {
                return fail(400, "client sent duplicate header line");
            }
            return fail(400, "client sent \"Content-Length\" and \"Transfer-Encoding\" headers");
        }
        case HPE_INVALID_TRANSFER_ENCODING:
            return fail(400, "client sent \"Content-Length\" and \"Transfer-Encoding\" headers");
        case HPE_INVALID_CONTENT_LENGTH:
            return fail(400, "client sent invalid \"Content-Length\" header");
        case HPE_INVALID_CHUNK_SIZE:
            return fail(400, "client sent invalid chunked body");
        case HPE_INVALID_METHOD:
            return fail(400, "client sent invalid method");
        case HPE_INVALID_VERSION:
            // A version llhttp cannot read: nginx answers 505 for a major above 1.
            if (major_version_above_one(buf + from, to - from)) {
                return fail(505, "client sent unsupported HTTP version");
            }
            return fail(400, "client sent invalid request");
        case HPE_INVALID_URL:
            return fail(400, "client sent invalid request");
        default:
            return fail(400, in_head_ ? "client sent invalid header line"
                                      : "client sent invalid request body");
    }
}

// What nginx answers about the Transfer-Encoding headers seen so far, when llhttp
// refused the head: a second one is 400 (duplicate), an unknown coding 501, else 0.
int RequestReader::coding_status(const char* buf, size_t to) const {
    int count = 0;
    bool unknown = false;
    for (const HeaderSpan& s : req_->spans) {
        std::string_view name(buf + s.name_off, s.name_len);
        if (!equals_ignore_case(name, "transfer-encoding")) continue;
        ++count;
        // llhttp stops delivering the value where it found it invalid: read the line.
        size_t end = s.value_off;
        while (end < to && buf[end] != '\r' && buf[end] != '\n')
            ++end;
        std::string_view value(buf + s.value_off, end - s.value_off);
        if (parse_transfer_encoding(value) != TransferCoding::chunked) unknown = true;
    }
    if (count > 1) return 400;
    if (count && parser_.http_major == 1 && parser_.http_minor == 0) return 400;
    return unknown ? 501 : 0;
}

void RequestReader::finish_head(const char* buf) {
    Request& r = *req_;
    r.method = std::string_view(buf + method_off_, method_len_);
    r.method_id = parser_.method;
    r.target = std::string_view(buf + url_off_, url_len_);
    r.http_major = parser_.http_major;
    r.http_minor = parser_.http_minor;
    // The request line ends at the first LF after the URL.
    const char* line_end = static_cast<const char*>(
        memchr(buf + url_off_ + url_len_, '\n', head_end_ - (url_off_ + url_len_)));
    size_t line_len = line_end ? static_cast<size_t>(line_end - (buf + start_)) : 0;
    if (line_len && buf[start_ + line_len - 1] == '\r') --line_len;
    r.request_line = std::string_view(buf + start_, line_len);
    r.headers.clear();
    for (const HeaderSpan& s : r.spans) {
        // nginx skips only spaces around a value; llhttp also skips tabs before it, so
        // take the value from the colon (a tab there is part of the value for nginx,
        // which matters for "Transfer-Encoding:\tchunked").
        size_t begin = s.name_off + s.name_len;
        size_t end = s.value_off + s.value_len;
        if (begin < end && buf[begin] == ':') ++begin;
        while (begin < end && buf[begin] == ' ')
            ++begin;
        if (s.value_len == 0) begin = end;
        std::string_view value(buf + begin, end - begin);
        // nginx tolerates a stray CR before the line's CRLF.
        if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
        while (!value.empty() && value.back() == ' ')
            value.remove_suffix(1);
        r.headers.push_back({std::string_view(buf + s.name_off, s.name_len), value});
    }
    r.request_length = head_end_ - start_;
    in_head_ = false;
}

int RequestReader::on_message_begin(llhttp_t*) {
    return 0;
}

int RequestReader::on_method(llhttp_t* p, const char* at, size_t len) {
    RequestReader& r = self(p);
    if (r.method_len_ == 0) r.method_off_ = r.off(at);
    r.method_len_ += static_cast<uint32_t>(len);
    return 0;
}

int RequestReader::on_url(llhttp_t* p, const char* at, size_t len) {
    RequestReader& r = self(p);
    if (r.url_len_ == 0) r.url_off_ = r.off(at);
    r.url_len_ += static_cast<uint32_t>(len);
    return 0;
}

int RequestReader::on_url_complete(llhttp_t* p) {
    RequestReader& r = self(p);
    if (r.url_off_ + r.url_len_ - r.start_ > r.limits_.line_max) {
        r.fail(414, "client sent too long URI");
        return HPE_USER;
    }
    return 0;
}

int RequestReader::on_version_complete(llhttp_t* p) {
    RequestReader& r = self(p);
    r.url_done_ = true;
    // nginx refuses a "*" target (e.g. the HTTP/2 preface "PRI * HTTP/2.0") before it
    // looks at the version.
    if (r.url_len_ == 1 && r.base_[r.url_off_] == '*') {
        r.fail(400, "client sent invalid request");
        return HPE_USER;
    }
    if (p->http_major > 1) {
        r.fail(505, "client sent unsupported HTTP version");
        return HPE_USER;
    }
    if (p->http_major != 1) {
        r.fail(400, "client sent invalid request");
        return HPE_USER;
    }
    return 0;
}

int RequestReader::on_header_field(llhttp_t* p, const char* at, size_t len) {
    RequestReader& r = self(p);
    if (!r.in_head_) return 0;  // trailers of a chunked body: dropped, as nginx does
    r.fields_.field(r.off(at), static_cast<uint32_t>(len));
    r.line_start_ = r.req_->spans.back().name_off;
    return 0;
}

int RequestReader::on_header_value(llhttp_t* p, const char* at, size_t len) {
    RequestReader& r = self(p);
    if (!r.in_head_) return 0;
    r.fields_.value(r.off(at), static_cast<uint32_t>(len));
    return 0;
}

int RequestReader::on_header_value_complete(llhttp_t* p) {
    RequestReader& r = self(p);
    if (!r.in_head_) return 0;
    const HeaderSpan& s = r.fields_.value_complete();
    if (s.value_off + s.value_len - s.name_off > r.limits_.line_max) {
        r.fail(494, "client sent too long header line");
        return HPE_USER;
    }
    return 0;
}

int RequestReader::on_headers_complete(llhttp_t* p) {
    RequestReader& r = self(p);
    r.head_paused_ = true;
    return HPE_PAUSED;
}

int RequestReader::on_body(llhttp_t* p, const char* at, size_t len) {
    // llhttp closes an open span at the end of every execute, even an empty one.
    if (len == 0) return 0;
    RequestReader& r = self(p);
    if (!r.spans_.empty()) {
        BodySpan& last = r.spans_.back();
        if (last.offset + last.length == r.off(at)) {
            last.length += static_cast<uint32_t>(len);
            return 0;
        }
    }
    r.spans_.push_back({r.off(at), static_cast<uint32_t>(len)});
    return 0;
}

// nginx refuses a chunk whose size leaves less than 9 bytes below the largest off_t.
int RequestReader::on_chunk_header(llhttp_t* p) {
    constexpr uint64_t kMaxChunk = static_cast<uint64_t>(INT64_MAX) - 9;
    if (p->content_length > kMaxChunk) {
        self(p).fail(400, "client sent invalid chunked body");
        return HPE_USER;
    }
    return 0;
}

int RequestReader::on_message_complete(llhttp_t* p) {
    RequestReader& r = self(p);
    r.message_complete_ = true;
    return HPE_PAUSED;
}

}  // namespace ferry::http
