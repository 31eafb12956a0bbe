#include "http/response_reader.h"

namespace ferry::http {

ResponseReader::ResponseReader() {
    static llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_status = &ResponseReader::on_status;
        st.on_header_field = &ResponseReader::on_header_field;
        st.on_header_value = &ResponseReader::on_header_value;
        st.on_header_value_complete = &ResponseReader::on_header_value_complete;
        st.on_headers_complete = &ResponseReader::on_headers_complete;
        return st;
    }();
    llhttp_init(&parser_, HTTP_RESPONSE, &s);
    parser_.data = this;
}

void ResponseReader::begin(size_t offset) {
    llhttp_reset(&parser_);
    parser_.data = this;
    start_ = offset;
    head_end_ = 0;
    reason_off_ = reason_len_ = 0;
    done_ = false;
    status_ = 0;
    fields_.clear();
    headers_.clear();
    error_ = "";
}

ResponseReader::Event ResponseReader::parse(const char* buf, size_t from, size_t to,
                                            size_t& consumed) {
    base_ = buf;
    consumed = 0;
    if (from == to) return Event::need_more;
    llhttp_errno_t err = llhttp_execute(&parser_, buf + from, to - from);
    if (err == HPE_OK) {
        consumed = to - from;
        return Event::need_more;
    }
    if (err == HPE_PAUSED && done_) {
        consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - (buf + from));
        head_end_ = from + consumed;
        status_ = parser_.status_code;
        http_major_ = parser_.http_major;
        http_minor_ = parser_.http_minor;
        reason_ = std::string_view(buf + reason_off_, reason_len_);
        headers_.clear();
        for (const HeaderSpan& s : spans_) {
            std::string_view value(buf + s.value_off, s.value_len);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
                value.remove_suffix(1);
            }
            headers_.push_back({std::string_view(buf + s.name_off, s.name_len), value});
        }
        return Event::head_done;
    }
    error_ = llhttp_get_error_reason(&parser_);
    if (!error_) error_ = "invalid response";
    return Event::error;
}

int ResponseReader::on_status(llhttp_t* p, const char* at, size_t len) {
    ResponseReader& r = self(p);
    if (r.reason_len_ == 0) r.reason_off_ = r.off(at);
    r.reason_len_ += static_cast<uint32_t>(len);
    return 0;
}

int ResponseReader::on_header_field(llhttp_t* p, const char* at, size_t len) {
    ResponseReader& r = self(p);
    r.fields_.field(r.off(at), static_cast<uint32_t>(len));
    return 0;
}

int ResponseReader::on_header_value(llhttp_t* p, const char* at, size_t len) {
    ResponseReader& r = self(p);
    r.fields_.value(r.off(at), static_cast<uint32_t>(len));
    return 0;
}

int ResponseReader::on_header_value_complete(llhttp_t* p) {
    self(p).fields_.value_complete();
    return 0;
}

int ResponseReader::on_headers_complete(llhttp_t* p) {
    self(p).done_ = true;
    return HPE_PAUSED;
}

}  // namespace ferry::http

namespace ferry::http {

void ResponseReader::rebase(const char* from, const char* to) {
    auto move = [&](std::string_view v) {
        if (v.data() == nullptr) return v;
        return std::string_view(to + (v.data() - from), v.size());
    };
    reason_ = move(reason_);
    for (HeaderField& h : headers_) {
        h.name = move(h.name);
        h.value = move(h.value);
    }
}

}  // namespace ferry::http
