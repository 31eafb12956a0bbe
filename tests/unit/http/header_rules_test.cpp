#include "http/header_rules.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace ferry::http;

TEST_CASE("headers: lookup ignores case and knows the rules", "[http][headers]") {
    const HeaderInfo* h = lookup_header("transfer-ENCODING");
    REQUIRE(h);
    CHECK(h->id == KnownHeader::transfer_encoding);
    CHECK(h->name == "Transfer-Encoding");
    CHECK(h->has(hf_hop_by_hop));
    CHECK(h->has(hf_framing));
    CHECK(h->has(hf_not_forwarded_upstream));
    CHECK(h->has(hf_unique_in_request));
    CHECK_FALSE(h->has(hf_hidden_from_client));

    CHECK(lookup_header("X-Custom") == nullptr);
    CHECK(lookup_header("") == nullptr);
    CHECK(lookup_header("Hos") == nullptr);
    CHECK(lookup_header("Hostx") == nullptr);
    REQUIRE(lookup_header("HOST"));
    CHECK(lookup_header("HOST")->id == KnownHeader::host);
}

TEST_CASE("headers: the flag sets", "[http][headers]") {
    auto names_with = [](HeaderFlag flag) {
        std::vector<std::string> out;
        for (const char* n : {"Authorization",
                              "Connection",
                              "Content-Length",
                              "Content-Range",
                              "Content-Type",
                              "Cookie",
                              "Date",
                              "Expect",
                              "Host",
                              "If-Match",
                              "If-Modified-Since",
                              "If-None-Match",
                              "If-Range",
                              "If-Unmodified-Since",
                              "Keep-Alive",
                              "Location",
                              "Proxy-Authorization",
                              "Proxy-Connection",
                              "Server",
                              "TE",
                              "Trailer",
                              "Transfer-Encoding",
                              "Upgrade",
                              "X-Accel-Buffering",
                              "X-Accel-Charset",
                              "X-Accel-Expires",
                              "X-Accel-Limit-Rate",
                              "X-Accel-Redirect",
                              "X-Forwarded-For",
                              "X-Pad",
                              "X-Real-IP"}) {
            const HeaderInfo* h = lookup_header(n);
            REQUIRE(h);
            CHECK(h->name == n);
            if (h->has(flag)) out.emplace_back(n);
        }
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(names_with(hf_hop_by_hop) == V{"Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                         "Trailer", "Transfer-Encoding", "Upgrade"});
    CHECK(names_with(hf_not_forwarded_upstream) == V{"Connection", "Expect", "Keep-Alive",
                                                     "Proxy-Connection", "TE", "Trailer",
                                                     "Transfer-Encoding", "Upgrade"});
    CHECK(names_with(hf_framing) == V{"Content-Length", "Transfer-Encoding"});
    CHECK(names_with(hf_set_by_proxy) == V{"Content-Length", "Host"});
    CHECK(names_with(hf_hidden_from_client) ==
          V{"Date", "Server", "X-Accel-Buffering", "X-Accel-Charset", "X-Accel-Expires",
            "X-Accel-Limit-Rate", "X-Accel-Redirect", "X-Pad"});
    CHECK(names_with(hf_not_relayed_to_client) ==
          V{"Connection", "Content-Length", "Keep-Alive", "Transfer-Encoding", "Upgrade"});
    CHECK(names_with(hf_unique_in_request) == V{"Authorization", "Content-Length", "Content-Range",
                                                "Expect", "Host", "If-Match", "If-Modified-Since",
                                                "If-None-Match", "If-Range", "If-Unmodified-Since",
                                                "Proxy-Authorization", "Transfer-Encoding"});
}

TEST_CASE("headers: token lists", "[http][headers]") {
    auto tokens = [](std::string_view v) {
        std::vector<std::string> out;
        for (std::string_view t : TokenList(v))
            out.emplace_back(t);
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(tokens("") == V{});
    CHECK(tokens("close") == V{"close"});
    CHECK(tokens(" a ,b,\tc\t, , ,d ") == V{"a", "b", "c", "d"});
    CHECK(tokens(",,,") == V{});
    CHECK(tokens("Keep-Alive, X-Foo") == V{"Keep-Alive", "X-Foo"});

    CHECK(has_token("keep-alive, X-Foo", "x-foo"));
    CHECK(has_token("keep-alive,x-foo ", "X-FOO"));
    CHECK_FALSE(has_token("keep-alive, X-Foo-Bar", "x-foo"));
    CHECK_FALSE(has_token("", "x-foo"));
}

TEST_CASE("headers: Connection options", "[http][headers]") {
    CHECK(parse_connection("close") == co_close);
    CHECK(parse_connection("Keep-Alive") == co_keep_alive);
    CHECK(parse_connection("Upgrade, keep-alive") == (co_upgrade | co_keep_alive));
    CHECK(parse_connection("x-close, keep-alive-x") == 0);
    CHECK(parse_connection("") == 0);
}

TEST_CASE("headers: Content-Length values", "[http][headers]") {
    struct Case {
        const char* value;
        int64_t expect;  // -1: invalid (400)
    };
    const std::vector<Case> cases = {
        {"0", 0},
        {"42", 42},
        {" 42\t", 42},
        {"00012", 12},
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775808", -1},
        {"99999999999999999999", -1},
        {"", -1},
        {" ", -1},
        {"-1", -1},
        {"+1", -1},
        {"1,1", -1},
        {"1, 1", -1},
        {"1 1", -1},
        {"0x10", -1},
        {"1e3", -1},
        {"12a", -1},
    };
    for (const Case& c : cases) {
        INFO("value: '" << c.value << "'");
        auto n = parse_content_length(c.value);
        if (c.expect < 0) {
            CHECK_FALSE(n);
        } else {
            REQUIRE(n);
            CHECK(*n == c.expect);
        }
    }
}

TEST_CASE("headers: only a plain 'chunked' Transfer-Encoding is accepted", "[http][headers]") {
    for (const char* v : {"chunked", "Chunked", "CHUNKED", " chunked "})
        CHECK(parse_transfer_encoding(v) == TransferCoding::chunked);
    // nginx skips only spaces around the value: a tab makes it unknown (501).
    for (const char* v : {"", "gzip", "identity", "gzip, chunked", "chunked, chunked", "chunked,",
                          "chunked;q=1", "chunk", "xchunked", "\tchunked", "chunked\t"})
        CHECK(parse_transfer_encoding(v) == TransferCoding::unsupported);
}

TEST_CASE("headers: request header names as nginx checks them", "[http][headers]") {
    struct Case {
        std::string name;
        HeaderNameCheck without_underscores;
        HeaderNameCheck with_underscores;
    };
    using C = HeaderNameCheck;
    const std::vector<Case> cases = {
        {"Host", C::valid, C::valid},
        {"X-Forwarded-For", C::valid, C::valid},
        {"x-1-2", C::valid, C::valid},
        {"X_Custom", C::invalid, C::valid},
        {"_", C::invalid, C::valid},
        {"X.Custom", C::invalid, C::invalid},
        {"X@Y", C::invalid, C::invalid},
        {"X\xc3\xa9", C::invalid, C::invalid},
        {"", C::bad_request, C::bad_request},
        {"X Y", C::bad_request, C::bad_request},
        {"X\tY", C::bad_request, C::bad_request},
        {"X\x01", C::bad_request, C::bad_request},
        {"X\x7f", C::bad_request, C::bad_request},
        {std::string("X\0Y", 3), C::bad_request, C::bad_request},
        {"X:", C::bad_request, C::bad_request},
        {"X_\x01", C::bad_request, C::bad_request},
    };
    for (const Case& c : cases) {
        INFO("name: " << c.name);
        CHECK(check_header_name(c.name, false) == c.without_underscores);
        CHECK(check_header_name(c.name, true) == c.with_underscores);
    }
}

TEST_CASE("headers: request header values", "[http][headers]") {
    CHECK(is_valid_header_value(""));
    CHECK(is_valid_header_value("text/html; q=0.9"));
    CHECK(is_valid_header_value("a\tb"));
    CHECK(is_valid_header_value("caf\xc3\xa9"));  // obs-text
    CHECK_FALSE(is_valid_header_value(std::string("a\0b", 3)));
    CHECK_FALSE(is_valid_header_value("a\rb"));
    CHECK_FALSE(is_valid_header_value("a\nb"));
    // nginx refuses only NUL among control bytes.
    CHECK(is_valid_header_value("a\x01"));
    CHECK(is_valid_header_value("a\x7f"));
}

TEST_CASE("headers: case-insensitive equality", "[http][headers]") {
    CHECK(equals_ignore_case("Content-Length", "content-length"));
    CHECK_FALSE(equals_ignore_case("Content-Length", "content-lengt"));
    CHECK_FALSE(equals_ignore_case("a", "\xc1"));  // only ASCII folds
    CHECK(equals_ignore_case("", ""));
}
