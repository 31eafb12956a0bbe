// The demo upstream's HTTP/1.x request head parser: strict, allocation-light, and
// bounded. The parsed request refers into the caller's buffer.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace ferry::demo {

struct Header {
    std::string_view name;
    std::string_view value;  // without surrounding whitespace
};

struct Request {
    std::string_view method;
    std::string_view target;
    int minor_version = 1;  // HTTP/1.<minor_version>
    std::vector<Header> headers;
    size_t head_size = 0;  // bytes from the request line through the empty line

    // Number of header lines named `name` (case-insensitive).
    size_t count(std::string_view name) const;
    // The first header named `name`, or an empty view when there is none.
    std::string_view value(std::string_view name) const;
    // True when any `name` header lists `token` (comma-separated, case-insensitive), as
    // Connection and Upgrade do.
    bool has_token(std::string_view name, std::string_view token) const;
    // The path part of the target (before any '?').
    std::string_view path() const;
};

enum class ParseResult {
    incomplete,   // no empty line yet: read more
    ok,           // `out` holds the request
    bad,          // malformed: answer 400 and close
    bad_version,  // a well-formed line with an HTTP version other than 1.0/1.1: 505
    too_large,    // the head exceeds `max_head` bytes: 431 and close
};

// Parses a request head from the start of `in` (empty lines before the request line
// must already be skipped). Lines end with CRLF or a bare LF; a CR elsewhere, and
// obsolete line folding, are rejected.
ParseResult parse_request_head(std::string_view in, size_t max_head, Request& out);

bool iequals(std::string_view a, std::string_view b);

}  // namespace ferry::demo
