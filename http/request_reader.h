// Drives llhttp (strict mode) over a client connection's read buffer: it stops after
// each request head so the request can be routed before its body is read, collects
// body bytes as spans of the buffer (no copy), and stops at the end of each message so
// pipelined requests are served one at a time. Size limits and nginx's statuses for
// malformed input are decided here.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "http/header_spans.h"
#include "http/request.h"

namespace ferry::http {

struct HeadLimits {
    size_t line_max = 8192;   // large_client_header_buffers size: request line / header line
    size_t head_max = 32768;  // number * size: the whole head
};

struct BodySpan {
    uint32_t offset;
    uint32_t length;
};

class RequestReader {
  public:
    enum class Event : uint8_t {
        need_more,     // everything given was parsed; read more
        head_done,     // a request head is complete (Request filled)
        body,          // body bytes were parsed (see spans()); call again
        message_done,  // the request (head and body) is complete
        error,         // malformed: answer error_status() and close
    };

    RequestReader();
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    // Starts a new request whose first byte is at `offset` of the buffer.
    void begin(Request& req, size_t offset, const HeadLimits& limits);
    // Parses buf[from, to). `consumed` gets how many bytes were parsed.
    Event parse(const char* buf, size_t from, size_t to, size_t& consumed);

    // Body bytes found by the last parse() (offsets into the buffer).
    const std::vector<BodySpan>& spans() const { return spans_; }
    void clear_spans() { spans_.clear(); }
    // Offset just past the request head (valid after head_done).
    size_t head_end() const { return head_end_; }
    int error_status() const { return error_status_; }
    const char* error_reason() const { return error_reason_; }
    bool in_head() const { return in_head_; }
    // True when the parser saw the message's end (after message_done).
    bool message_complete() const { return message_complete_; }

  private:
    static int on_message_begin(llhttp_t* p);
    static int on_method(llhttp_t* p, const char* at, size_t len);
    static int on_url(llhttp_t* p, const char* at, size_t len);
    static int on_url_complete(llhttp_t* p);
    static int on_version_complete(llhttp_t* p);
    static int on_header_field(llhttp_t* p, const char* at, size_t len);
    static int on_header_value(llhttp_t* p, const char* at, size_t len);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, size_t len);
    static int on_message_complete(llhttp_t* p);
    static int on_chunk_header(llhttp_t* p);
    static RequestReader& self(llhttp_t* p) { return *static_cast<RequestReader*>(p->data); }

    Event fail(int status, const char* reason);
    Event check_limits(size_t parsed_to);
    void finish_head(const char* buf);
    int coding_status(const char* buf, size_t to) const;
    uint32_t off(const char* at) const { return static_cast<uint32_t>(at - base_); }

    llhttp_t parser_;
    Request* req_ = nullptr;
    std::vector<HeaderSpan> no_spans_;
    HeaderSpans fields_{no_spans_};  // fills req_->spans
    HeadLimits limits_;
    const char* base_ = nullptr;  // the buffer of the current parse() call
    size_t start_ = 0;            // offset of the request's first byte
    size_t head_end_ = 0;
    size_t line_start_ = 0;  // offset where the current header line began
    uint32_t method_off_ = 0, method_len_ = 0;
    uint32_t url_off_ = 0, url_len_ = 0;
    bool in_head_ = true;
    bool url_done_ = false;
    bool head_paused_ = false;
    bool message_complete_ = false;
    int error_status_ = 0;
    char last_byte_ = 0;       // the last byte given to the parser so far
    char prev_last_byte_ = 0;  // the byte before the current parse() input
    const char* error_reason_ = "";
    std::vector<BodySpan> spans_;
};

}  // namespace ferry::http
