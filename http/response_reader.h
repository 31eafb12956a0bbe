// Reads an upstream response head and stops right after it; the body is framed by the
// caller. Positions are kept as offsets into the response buffer, so it may grow and
// move while the head arrives.
//
// nginx's rules for upstream heads (ngx_http_parse_status_line, and
// ngx_http_parse_header_line as the proxy module calls it), not llhttp's strict ones:
// lines may end in LF alone, a header line in CR LF with more CRs before the LF; header
// values may hold any byte but NUL, CR and LF; names any byte above 0x20 but DEL and the
// colon; a line without a colon is a name with an empty value; only spaces are trimmed
// around a value; "HTTP/1.1 403.1" status lines (IIS) pass, and a header line beginning
// "HTTP/" (IIS repeating its status line) is skipped. Refused, as nginx: obs-fold (a line
// beginning with a space or tab), a space before the colon, NUL, a CR not ending a line,
// a CR in a status line other than one before its LF, and "\r\r\n" as the blank line.
// Client requests stay on llhttp (request_reader.cpp), and chunked bodies keep CR LF
// (chunked.cpp), as nginx 1.31's ngx_http_parse_chunked does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace ferry::http {

class ResponseReader {
  public:
    enum class Event : uint8_t { need_more, head_done, error };

    ResponseReader() = default;
    ResponseReader(const ResponseReader&) = delete;
    ResponseReader& operator=(const ResponseReader&) = delete;

    // Starts a new head (also after a 1xx interim response) at `offset` of the buffer.
    void begin(size_t offset);
    // Parses buf[from, to), `from` being where the previous call's `consumed` ended (or
    // begin()'s offset). `consumed` gets how many of these bytes were taken: all of them
    // with need_more (a line still arriving is kept and finished by the next call, so
    // the bytes before `from` must stay in the buffer at their offsets), up to the end
    // of the head with head_done.
    Event parse(const char* buf, size_t from, size_t to, size_t& consumed);

    // After head_done: the parsed head, as views into `buf` of the last parse().
    int status() const { return status_; }
    uint8_t http_major() const { return http_major_; }
    uint8_t http_minor() const { return http_minor_; }
    // The text after the status code and its space: "OK". For IIS's "403.1 Forbidden"
    // it is ".1 Forbidden", which follows the code without a space.
    std::string_view reason() const { return reason_; }
    const std::vector<HeaderField>& headers() const { return headers_; }
    size_t head_start() const { return start_; }
    size_t head_end() const { return head_end_; }
    // After error: nginx's text for the log, the line up to the offending byte and that
    // byte in hex, e.g. `X-Name\x20...` (the caller wraps it in `upstream sent invalid
    // header: "..."`). Control bytes of the line are escaped too.
    const char* error() const { return error_.c_str(); }
    // The head's bytes moved from `from` to `to`: re-point the views.
    void rebase(const char* from, const char* to);

  private:
    bool status_line(std::string_view line, size_t off);
    bool header_line(std::string_view line, size_t off);
    bool fail(std::string_view line, size_t bad);
    void finish(const char* buf, size_t end);

    size_t start_ = 0;
    size_t line_ = 0;  // where the line being read starts
    size_t head_end_ = 0;
    bool have_status_ = false;
    int status_ = 0;
    uint8_t http_major_ = 1;
    uint8_t http_minor_ = 1;
    uint32_t reason_off_ = 0, reason_len_ = 0;
    std::string_view reason_;
    std::vector<HeaderSpan> spans_;
    std::vector<HeaderField> headers_;
    std::string error_;
};

}  // namespace ferry::http
