#include "http/status.h"

#include <algorithm>
#include <array>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0"
#endif

namespace ferry::http {

namespace {

struct Reason {
    int code;
    std::string_view phrase;
    std::string_view line;  // "HTTP/1.1 <code> <phrase>\r\n"
};

#define FERRY_REASON(code, phrase)                        \
    Reason {                                              \
        code, phrase, "HTTP/1.1 " #code " " phrase "\r\n" \
    }

// Sorted by code.
constexpr std::array kReasons = {
    FERRY_REASON(100, "Continue"),
    FERRY_REASON(101, "Switching Protocols"),
    FERRY_REASON(102, "Processing"),
    FERRY_REASON(103, "Early Hints"),
    FERRY_REASON(200, "OK"),
    FERRY_REASON(201, "Created"),
    FERRY_REASON(202, "Accepted"),
    FERRY_REASON(203, "Non-Authoritative Information"),
    FERRY_REASON(204, "No Content"),
    FERRY_REASON(205, "Reset Content"),
    FERRY_REASON(206, "Partial Content"),
    FERRY_REASON(207, "Multi-Status"),
    FERRY_REASON(300, "Multiple Choices"),
    FERRY_REASON(301, "Moved Permanently"),
    FERRY_REASON(302, "Moved Temporarily"),
    FERRY_REASON(303, "See Other"),
    FERRY_REASON(304, "Not Modified"),
    FERRY_REASON(305, "Use Proxy"),
    FERRY_REASON(307, "Temporary Redirect"),
    FERRY_REASON(308, "Permanent Redirect"),
    FERRY_REASON(400, "Bad Request"),
    FERRY_REASON(401, "Unauthorized"),
    FERRY_REASON(402, "Payment Required"),
    FERRY_REASON(403, "Forbidden"),
    FERRY_REASON(404, "Not Found"),
    FERRY_REASON(405, "Not Allowed"),
    FERRY_REASON(406, "Not Acceptable"),
    FERRY_REASON(407, "Proxy Authentication Required"),
    FERRY_REASON(408, "Request Time-out"),
    FERRY_REASON(409, "Conflict"),
    FERRY_REASON(410, "Gone"),
    FERRY_REASON(411, "Length Required"),
    FERRY_REASON(412, "Precondition Failed"),
    FERRY_REASON(413, "Request Entity Too Large"),
    FERRY_REASON(414, "Request-URI Too Large"),
    FERRY_REASON(415, "Unsupported Media Type"),
    FERRY_REASON(416, "Requested Range Not Satisfiable"),
    FERRY_REASON(417, "Expectation Failed"),
    FERRY_REASON(421, "Misdirected Request"),
    FERRY_REASON(422, "Unprocessable Entity"),
    FERRY_REASON(423, "Locked"),
    FERRY_REASON(424, "Failed Dependency"),
    FERRY_REASON(425, "Too Early"),
    FERRY_REASON(426, "Upgrade Required"),
    FERRY_REASON(428, "Precondition Required"),
    FERRY_REASON(429, "Too Many Requests"),
    FERRY_REASON(431, "Request Header Fields Too Large"),
    FERRY_REASON(451, "Unavailable For Legal Reasons"),
    FERRY_REASON(500, "Internal Server Error"),
    FERRY_REASON(501, "Not Implemented"),
    FERRY_REASON(502, "Bad Gateway"),
    FERRY_REASON(503, "Service Temporarily Unavailable"),
    FERRY_REASON(504, "Gateway Time-out"),
    FERRY_REASON(505, "HTTP Version Not Supported"),
    FERRY_REASON(506, "Variant Also Negotiates"),
    FERRY_REASON(507, "Insufficient Storage"),
    FERRY_REASON(508, "Loop Detected"),
    FERRY_REASON(511, "Network Authentication Required"),
};

#undef FERRY_REASON

const Reason* find_reason(int code) {
    auto it = std::lower_bound(kReasons.begin(), kReasons.end(), code,
                               [](const Reason& r, int c) { return r.code < c; });
    return it != kReasons.end() && it->code == code ? &*it : nullptr;
}

struct Page {
    int code;
    std::string_view plain;      // footer "ferry"
    std::string_view versioned;  // footer "ferry/<version>"
};

#define FERRY_PAGE_TAIL(who) "<hr><center>" who "</center>\r\n</body>\r\n</html>\r\n"
#define FERRY_PAGE_HEAD(title, heading, detail)                                         \
    "<html>\r\n<head><title>" title "</title></head>\r\n<body>\r\n<center><h1>" heading \
    "</h1></center>\r\n" detail
#define FERRY_PAGE_FULL(code, title, heading, detail)                                       \
    Page {                                                                                  \
        code, FERRY_PAGE_HEAD(title, heading, detail) FERRY_PAGE_TAIL("ferry"),             \
            FERRY_PAGE_HEAD(title, heading, detail) FERRY_PAGE_TAIL("ferry/" FERRY_VERSION) \
    }
#define FERRY_PAGE(code, phrase) FERRY_PAGE_FULL(code, #code " " phrase, #code " " phrase, "")
// ferry's own 4xx codes, sent as 400 with the reason under the heading.
#define FERRY_PAGE_400(code, reason) \
    FERRY_PAGE_FULL(code, "400 " reason, "400 Bad Request", "<center>" reason "</center>\r\n")

// Sorted by code: the codes nginx has a page for.
constexpr std::array kPages = {
    FERRY_PAGE(301, "Moved Permanently"),
    FERRY_PAGE(302, "Moved Temporarily"),
    FERRY_PAGE(303, "See Other"),
    FERRY_PAGE(307, "Temporary Redirect"),
    FERRY_PAGE(308, "Permanent Redirect"),
    FERRY_PAGE(400, "Bad Request"),
    FERRY_PAGE(401, "Unauthorized"),
    FERRY_PAGE(402, "Payment Required"),
    FERRY_PAGE(403, "Forbidden"),
    FERRY_PAGE(404, "Not Found"),
    FERRY_PAGE(405, "Not Allowed"),
    FERRY_PAGE(406, "Not Acceptable"),
    FERRY_PAGE(407, "Proxy Authentication Required"),
    FERRY_PAGE(408, "Request Time-out"),
    FERRY_PAGE(409, "Conflict"),
    FERRY_PAGE(410, "Gone"),
    FERRY_PAGE(411, "Length Required"),
    FERRY_PAGE(412, "Precondition Failed"),
    FERRY_PAGE(413, "Request Entity Too Large"),
    FERRY_PAGE(414, "Request-URI Too Large"),
    FERRY_PAGE(415, "Unsupported Media Type"),
    FERRY_PAGE(416, "Requested Range Not Satisfiable"),
    FERRY_PAGE(421, "Misdirected Request"),
    FERRY_PAGE(429, "Too Many Requests"),
    FERRY_PAGE_400(494, "Request Header Or Cookie Too Large"),
    FERRY_PAGE_400(495, "The SSL certificate error"),
    FERRY_PAGE_400(496, "No required SSL certificate was sent"),
    FERRY_PAGE_400(497, "The plain HTTP request was sent to HTTPS port"),
    FERRY_PAGE(500, "Internal Server Error"),
    FERRY_PAGE(501, "Not Implemented"),
    FERRY_PAGE(502, "Bad Gateway"),
    FERRY_PAGE(503, "Service Temporarily Unavailable"),
    FERRY_PAGE(504, "Gateway Time-out"),
    FERRY_PAGE(505, "HTTP Version Not Supported"),
    FERRY_PAGE(507, "Insufficient Storage"),
};

#undef FERRY_PAGE_400
#undef FERRY_PAGE
#undef FERRY_PAGE_FULL
#undef FERRY_PAGE_HEAD
#undef FERRY_PAGE_TAIL

constexpr bool sorted_by_code() {
    for (size_t i = 1; i < kReasons.size(); ++i)
        if (kReasons[i - 1].code >= kReasons[i].code) return false;
    for (size_t i = 1; i < kPages.size(); ++i)
        if (kPages[i - 1].code >= kPages[i].code) return false;
    return true;
}
static_assert(sorted_by_code(), "the status tables are searched by code");

}  // namespace

std::string_view reason_phrase(int code) {
    const Reason* r = find_reason(code);
    return r ? r->phrase : std::string_view{};
}

int wire_status(int code) {
    return code >= 494 && code <= 497 ? 400 : code;
}

std::string_view status_line(int code) {
    const Reason* r = find_reason(wire_status(code));
    return r ? r->line : std::string_view{};
}

std::string_view error_page(int code, bool with_version) {
    auto it = std::lower_bound(kPages.begin(), kPages.end(), code,
                               [](const Page& p, int c) { return p.code < c; });
    if (it == kPages.end() || it->code != code) return {};
    return with_version ? it->versioned : it->plain;
}

}  // namespace ferry::http
