// ResponseReader: upstream heads with nginx's rules (ngx_http_parse_status_line,
// ngx_http_parse_header_line for an upstream).
#include "http/response_reader.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using ferry::http::ResponseReader;
using Event = ResponseReader::Event;
using namespace std::string_literals;

namespace {

struct Head {
    Event event = Event::need_more;
    int status = 0;
    int major = 0, minor = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    size_t head_end = 0;
    std::string error;
};

Head collect(const ResponseReader& r, Event ev) {
    Head h;
    h.event = ev;
    if (ev == Event::error) {
        h.error = r.error();
        return h;
    }
    h.status = r.status();
    h.major = r.http_major();
    h.minor = r.http_minor();
    h.reason = std::string(r.reason());
    for (const auto& f : r.headers())
        h.headers.emplace_back(std::string(f.name), std::string(f.value));
    h.head_end = r.head_end();
    return h;
}

// Feeds `input` in pieces of `step` bytes (0: all at once) as a caller does: each call
// from where the previous `consumed` ended. The buffer is copied to a new place before
// every call, as a growing buffer may move.
Head run(const std::string& input, size_t step = 0) {
    ResponseReader r;
    r.begin(0);
    std::string buf;
    size_t from = 0;
    size_t to = 0;
    for (;;) {
        to = step == 0 ? input.size() : std::min(input.size(), to + step);
        std::string moved = input.substr(0, to);
        buf.swap(moved);
        size_t consumed = 99;
        Event ev = r.parse(buf.data(), from, to, consumed);
        if (ev == Event::need_more) {
            REQUIRE(consumed == to - from);
            from += consumed;
            if (to == input.size()) return collect(r, ev);
            continue;
        }
        if (ev == Event::head_done) {
            REQUIRE(from + consumed == r.head_end());
            Head h = collect(r, ev);
            // The views point into the last buffer.
            for (const auto& f : r.headers()) {
                REQUIRE(f.name.data() >= buf.data());
                REQUIRE(f.name.data() + f.name.size() <= buf.data() + buf.size());
            }
            return h;
        }
        return collect(r, ev);
    }
}

// The same outcome whole, byte by byte and in pieces of 7.
Head run_all_ways(const std::string& input) {
    Head whole = run(input);
    for (size_t step : {size_t{1}, size_t{7}}) {
        INFO("in pieces of " << step);
        Head h = run(input, step);
        CHECK(h.event == whole.event);
        CHECK(h.status == whole.status);
        CHECK(h.reason == whole.reason);
        CHECK(h.headers == whole.headers);
        CHECK(h.head_end == whole.head_end);
        CHECK(h.error == whole.error);
    }
    return whole;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("response reader: CR LF, LF alone and mixed line ends", "[http][response_reader]") {
    for (const std::string& input : {
             "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\n\r\n"s, "HTTP/1.1 200 OK\nX-A: 1\nX-B: 2\n\n"s,
             "HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\n"s,
             "HTTP/1.1 200 OK\nX-A: 1\r\r\nX-B: 2\r\r\r\n\r\n"s,  // more CRs on a field line
         }) {
        INFO(input);
        Head h = run_all_ways(input + "body");
        REQUIRE(h.event == Event::head_done);
        CHECK(h.status == 200);
        CHECK(h.reason == "OK");
        CHECK(h.headers == Fields{{"X-A", "1"}, {"X-B", "2"}});
        CHECK(h.head_end == input.size());  // the body is not the head's
    }
}

TEST_CASE("response reader: the status line", "[http][response_reader]") {
    struct Case {
        std::string line;
        int status, major, minor;
        std::string reason;
    };
    for (const Case& c : std::vector<Case>{
             {"HTTP/1.1 200 OK", 200, 1, 1, "OK"},
             {"HTTP/1.0 404 Not Found", 404, 1, 0, "Not Found"},
             {"HTTP/1.1 204", 204, 1, 1, ""},
             {"HTTP/1.1 204 ", 204, 1, 1, ""},
             {"HTTP/1.1   302  Moved", 302, 1, 1, " Moved"},
             {"HTTP/1.1 403.1 Forbidden", 403, 1, 1, ".1 Forbidden"},  // IIS
             {"HTTP/12.345 200 x", 200, 12, 255, "x"},
             {"HTTP/1.1 200 \x01\x7f\xff\t", 200, 1, 1, "\x01\x7f\xff\t"},
         }) {
        for (const char* eol : {"\r\n", "\n"}) {
            INFO(c.line << " ended by " << (eol[0] == '\r' ? "CR LF" : "LF"));
            Head h = run_all_ways(c.line + eol + "\r\n");
            REQUIRE(h.event == Event::head_done);
            CHECK(h.status == c.status);
            CHECK(h.major == c.major);
            CHECK(h.minor == c.minor);
            CHECK(h.reason == c.reason);
        }
    }
}

TEST_CASE("response reader: invalid status lines", "[http][response_reader]") {
    for (const std::string& line : {
             "HTTP/1.1 2000 OK"s,
             "HTTP/1.1 20 OK"s,
             "HTTP/1.1 2x0 OK"s,
             "HTTP/1.1200 OK"s,
             "HTTP/0.9 200 OK"s,  // the major version may not begin with 0
             "HTTP/1000.1 200 OK"s,
             "HTTP/1.1000 200 OK"s,
             "HTTP/1 200 OK"s,
             "HTTP/1.1\t200 OK"s,
             "http/1.1 200 OK"s,
             "ICY 200 OK"s,
             ""s,
             "HTTP/1.1 200 OK\r\r"s,  // one CR only before the LF
             "HTTP/1.1 200 O\rK"s,
             " HTTP/1.1 200 OK"s,
         }) {
        INFO(line);
        Head h = run_all_ways(line + "\r\n\r\n");
        CHECK(h.event == Event::error);
    }
    CHECK(run("HTTP/1.1 2000 OK\r\n\r\n").error == "HTTP/1.1 200\\x30...");
    CHECK(run("HTTP/1.1 200 O\rK\r\n\r\n").error == "HTTP/1.1 200 O\\x0d...");
}

TEST_CASE("response reader: what nginx lets through from upstreams", "[http][response_reader]") {
    Head h = run_all_ways(
        "HTTP/1.1 200 OK\r\n"
        "X-Ctl: a\x01"
        "b\x7f"
        "c\xff\r\n"
        "X-Name@odd{}: v\r\n"
        "X_Under: u\r\n"
        "\xc3\xa9t\xc3\xa9: high\r\n"
        "X-Colonless\r\n"
        "X-Empty:\r\n"
        "X-Spaces:   \r\n"
        "X-Trim:   a b  \r\n"
        "X-Tabs:\tt \t\r\n"  // only spaces are trimmed
        "X-Colons: a:b: c\r\n"
        "\r\n");
    REQUIRE(h.event == Event::head_done);
    CHECK(h.headers == Fields{
                           {"X-Ctl",
                            "a\x01"
                            "b\x7f"
                            "c\xff"},
                           {"X-Name@odd{}", "v"},
                           {"X_Under", "u"},
                           {"\xc3\xa9t\xc3\xa9", "high"},
                           {"X-Colonless", ""},
                           {"X-Empty", ""},
                           {"X-Spaces", ""},
                           {"X-Trim", "a b"},
                           {"X-Tabs", "\tt \t"},
                           {"X-Colons", "a:b: c"},
                       });
}

TEST_CASE("response reader: IIS repeating its status line", "[http][response_reader]") {
    Head h = run_all_ways(
        "HTTP/1.1 403 Forbidden\r\nHTTP/1.1 403 Forbidden\r\nHTTP/ anything\0\r\x01\r\n"s
        "Content-Length: 3\r\n\r\n");
    REQUIRE(h.event == Event::head_done);
    CHECK(h.status == 403);
    CHECK(h.headers == Fields{{"Content-Length", "3"}});
    // Only "HTTP/" at the start of a line.
    CHECK(run("HTTP/1.1 200 OK\r\nHTTPS/1.1: x\r\n\r\n").headers == Fields{{"HTTPS/1.1", "x"}});
}

TEST_CASE("response reader: refused header lines and nginx's log text", "[http][response_reader]") {
    struct Case {
        std::string line;
        std::string error;
    };
    for (const Case& c : std::vector<Case>{
             {" folded", "\\x20..."},
             {"\tfolded", "\\x09..."},
             {"X-Sp : v", "X-Sp\\x20..."},
             {"X-Tab\t: v", "X-Tab\\x09..."},
             {": v", "\\x3a..."},
             {"X\x7fY: v", "X\\x7f..."},
             {"X-Nul: a\0b"s, "X-Nul: a\\x00..."},
             {"X-Nul:\0"s, "X-Nul:\\x00..."},
             {"X-Nul: a \0"s, "X-Nul: a \\x00..."},
             {"X-Nul\0: a"s, "X-Nul\\x00..."},
             {"X-Cr: a\rb", "X-Cr: a\\x0d..."},
             {"X-Cr: a \rb", "X-Cr: a\\x20..."},  // nginx's header_end: where the value ended
             {"X-Cr: \rb", "X-Cr: \\x0d..."},
             {"X-Cr\rb", "X-Cr\\x0d..."},
             {"X-Cr: a\r\rb", "X-Cr: a\\x0d..."},
             {"X-Ctl\x01: v", "X-Ctl\\x01..."},
         }) {
        INFO(c.line);
        Head h = run_all_ways("HTTP/1.1 200 OK\r\nX-Before: 1\r\n" + c.line + "\r\n\r\n");
        CHECK(h.event == Event::error);
        CHECK(h.error == c.error);
    }
    // The blank line ends in one CR at most.
    Head h = run_all_ways("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\r\n");
    CHECK(h.event == Event::error);
    CHECK(h.error == "\\x0d...");
    // Control bytes before the offending one are escaped in the log text.
    CHECK(run("HTTP/1.1 200 OK\r\nX-C: \x01\x1f\"\\\0\r\n\r\n"s).error ==
          "X-C: \\x01\\x1f\"\\\\x00...");
}

TEST_CASE("response reader: a head still arriving", "[http][response_reader]") {
    ResponseReader r;
    r.begin(0);
    std::string buf = "HTTP/1.1 200 OK\nX-A: 1";
    size_t consumed = 0;
    REQUIRE(r.parse(buf.data(), 0, buf.size(), consumed) == Event::need_more);
    CHECK(consumed == buf.size());
    size_t from = buf.size();
    buf += "23\r";
    REQUIRE(r.parse(buf.data(), from, buf.size(), consumed) == Event::need_more);
    CHECK(consumed == 3);
    from = buf.size();
    buf += "\n\nrest";
    REQUIRE(r.parse(buf.data(), from, buf.size(), consumed) == Event::head_done);
    CHECK(consumed == 2);
    CHECK(r.head_end() == buf.size() - 4);
    REQUIRE(r.headers().size() == 1);
    CHECK(r.headers()[0].value == "123");
    // Nothing new: still need more.
    ResponseReader r2;
    r2.begin(0);
    REQUIRE(r2.parse(buf.data(), 0, 0, consumed) == Event::need_more);
    CHECK(consumed == 0);
}

TEST_CASE("response reader: interim heads, then the final one", "[http][response_reader]") {
    std::string buf =
        "HTTP/1.1 100 Continue\n\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        "HTTP/1.1 201 Created\nX-Final: y\n\nbody";
    ResponseReader r;
    r.begin(0);
    size_t from = 0;
    std::vector<int> seen;
    for (;;) {
        size_t consumed = 0;
        REQUIRE(r.parse(buf.data(), from, buf.size(), consumed) == Event::head_done);
        from += consumed;
        seen.push_back(r.status());
        if (r.status() >= 200) break;
        REQUIRE(r.head_end() == from);
        r.begin(from);
    }
    CHECK(seen == std::vector<int>{100, 103, 201});
    REQUIRE(r.headers().size() == 1);
    CHECK(r.headers()[0].name == "X-Final");
    CHECK(buf.substr(r.head_end()) == "body");
    CHECK(r.head_start() == buf.find("HTTP/1.1 201"));
}

TEST_CASE("response reader: rebase re-points the views", "[http][response_reader]") {
    std::string buf = "HTTP/1.1 200 Fine\nX-A: 1\n\n";
    ResponseReader r;
    r.begin(0);
    size_t consumed = 0;
    REQUIRE(r.parse(buf.data(), 0, buf.size(), consumed) == Event::head_done);
    std::string copy = buf;
    buf.assign(buf.size(), '#');
    r.rebase(buf.data(), copy.data());
    CHECK(r.reason() == "Fine");
    CHECK(r.headers()[0].name == "X-A");
    CHECK(r.headers()[0].value == "1");
}
