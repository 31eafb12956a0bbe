// What nginx's not_modified and range filters decide for a file response: 304 or 412
// from the validators (If-Modified-Since, If-None-Match, If-Match,
// If-Unmodified-Since), and 206 or 416 from a Range header (one range; If-Range).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "conf/model.h"
#include "http/request.h"

namespace ferry::http {

struct FileFacts {
    time_t mtime = 0;
    uint64_t size = 0;
    std::string etag;  // nginx's "<mtime hex>-<size hex>" in quotes; empty with etag off
};

FileFacts file_facts(time_t mtime, uint64_t size, bool etag);

// 304 (not modified), 412 (precondition failed) or 200.
int check_conditions(const Request& req, const conf::StaticConf& f, const FileFacts& facts);

struct ByteRange {
    int status = 200;  // 200: the whole file; 206: [start, end); 416: not satisfiable
    uint64_t start = 0;
    uint64_t end = 0;
};

// The range to send for `Range: value` on a file of `size` bytes, as nginx's range
// filter parses it. Several ranges are answered with the whole file (ferry sends no
// multipart/byteranges).
ByteRange parse_range(std::string_view value, uint64_t size);
// The same from the request, with If-Range.
ByteRange choose_range(const Request& req, const FileFacts& facts);

// An HTTP date (IMF-fixdate, RFC 850 or asctime), as nginx's ngx_parse_http_time.
std::optional<time_t> parse_http_date(std::string_view text);

}  // namespace ferry::http
