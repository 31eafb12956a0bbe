// Status codes: reason phrases for the status line and the small HTML error pages ferry
// sends when it answers with an error itself (the same shape as nginx's, so that nginx
// users recognise them). Everything here is static text; nothing allocates.
#pragma once

#include <string_view>

namespace ferry::http {

// ferry's own statuses beyond HTTP's, as nginx has them. They are logged as such and
// sent on the wire as 400 (wire_status).
enum SpecialStatus : int {
    status_request_header_too_large = 494,  // a header line or the whole head too large
    status_cert_error = 495,                // the client certificate failed verification
    status_no_cert = 496,                   // a required client certificate was not sent
    status_http_to_https = 497,             // plain HTTP sent to a TLS port
    status_client_closed = 499,             // the client closed the connection (log only)
};

// The reason phrase for `code` ("Not Found"), RFC 9110's wording; "" for a code without
// one (the status line is then "HTTP/1.1 599 " as nginx sends it).
std::string_view reason_phrase(int code);

// The status sent on the wire: 400 for 494-497, `code` otherwise.
int wire_status(int code);

// The complete status line with CRLF for the codes ferry commonly sends, e.g.
// "HTTP/1.1 404 Not Found\r\n"; "" for other codes (format them with reason_phrase).
std::string_view status_line(int code);

// The HTML body ferry sends for an error it answers itself, e.g. for 404:
//   <html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n
//   <center><h1>404 Not Found</h1></center>\r\n<hr><center>ferry</center>\r\n
//   </body>\r\n</html>\r\n
// 494-497 carry a "400 Bad Request" heading with the reason below it. With
// `with_version` (server_tokens on) the footer names the version ("ferry/0.1.0").
// Returns "" for codes sent without a body (1xx, 204, 304, ...) or without a page
// (as nginx: e.g. 417, 418, 422, 499, 506).
std::string_view error_page(int code, bool with_version = false);

}  // namespace ferry::http
