// Reads an upstream response head with llhttp (strict mode) and stops right after it;
// the body is framed by ProxySession itself. Header positions are kept as offsets into
// the response buffer, so it may grow while the head arrives.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/header_spans.h"
#include "http/request.h"

namespace ferry::http {

class ResponseReader {
  public:
    enum class Event : uint8_t { need_more, head_done, error };

    ResponseReader();
    ResponseReader(const ResponseReader&) = delete;
    ResponseReader& operator=(const ResponseReader&) = delete;

    // Starts a new head (also after a 1xx interim response) at `offset` of the buffer.
    void begin(size_t offset);
    // Parses buf[from, to). `consumed` gets how many bytes belong to the head so far.
    Event parse(const char* buf, size_t from, size_t to, size_t& consumed);

    // After head_done: the parsed head, as views into `buf` of the last parse().
    int status() const { return status_; }
    uint8_t http_minor() const { return http_minor_; }
    uint8_t http_major() const { return http_major_; }
    std::string_view reason() const { return reason_; }
    const std::vector<HeaderField>& headers() const { return headers_; }
    size_t head_start() const { return start_; }
    size_t head_end() const { return head_end_; }
    const char* error() const { return error_; }
    // The head's bytes moved from `from` to `to`: re-point the views.
    void rebase(const char* from, const char* to);

  private:
    static int on_status(llhttp_t* p, const char* at, size_t len);
    static int on_header_field(llhttp_t* p, const char* at, size_t len);
    static int on_header_value(llhttp_t* p, const char* at, size_t len);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static ResponseReader& self(llhttp_t* p) { return *static_cast<ResponseReader*>(p->data); }
    uint32_t off(const char* at) const { return static_cast<uint32_t>(at - base_); }

    llhttp_t parser_;
    const char* base_ = nullptr;
    size_t start_ = 0;
    size_t head_end_ = 0;
    uint32_t reason_off_ = 0, reason_len_ = 0;
    bool done_ = false;
    int status_ = 0;
    uint8_t http_major_ = 1;
    uint8_t http_minor_ = 1;
    std::string_view reason_;
    std::vector<HeaderSpan> spans_;
    HeaderSpans fields_{spans_};
    std::vector<HeaderField> headers_;
    const char* error_ = "";
};

}  // namespace ferry::http
