#include "http/chunked.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

using ferry::http::ChunkedDecoder;
using ferry::http::last_chunk;
using ferry::http::max_chunk_header_size;
using ferry::http::write_chunk_header;
using Status = ChunkedDecoder::Status;
using namespace std::string_literals;

namespace {

struct Outcome {
    Status status = Status::need_more;
    std::string body;
    size_t consumed = 0;  // total input used
};

// Feeds `pieces` one after another (each call gets the unconsumed rest of a piece plus
// nothing else), collecting the body.
Outcome run(ChunkedDecoder& d, const std::vector<std::string>& pieces) {
    Outcome o;
    for (const std::string& piece : pieces) {
        std::string_view in = piece;
        while (true) {
            ChunkedDecoder::Result r = d.decode(in);
            o.consumed += r.consumed;
            in.remove_prefix(r.consumed);
            if (r.status == Status::data) {
                REQUIRE(!r.data.empty());
                o.body += r.data;
                continue;
            }
            o.status = r.status;
            if (r.status != Status::need_more) return o;
            REQUIRE(in.empty());
            break;
        }
    }
    return o;
}

Outcome run_whole(const std::string& input, ChunkedDecoder::Limits limits = {}) {
    ChunkedDecoder d(limits);
    return run(d, {input});
}

struct Valid {
    std::string input;
    std::string body;
};

const std::vector<Valid> kValid = {
    {"0\r\n\r\n", ""},
    {"5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
    {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
    {"a\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
    {"000005\r\nhello\r\n0000\r\n\r\n", "hello"},
    {"5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"},
    {"5 ;x\r\nhello\r\n0\t\r\n\r\n", "hello"},
    {"3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"},  // data may hold CR and LF
    {"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", "hello"},
    {"1\r\n\0\r\n0\r\n\r\n"s, "\0"s},
};

}  // namespace

TEST_CASE("chunked: valid bodies decode", "[http][chunked]") {
    for (const Valid& v : kValid) {
        INFO("input: " << v.input);
        Outcome o = run_whole(v.input);
        CHECK(o.status == Status::done);
        CHECK(o.body == v.body);
        CHECK(o.consumed == v.input.size());
    }
}

TEST_CASE("chunked: any split of the input gives the same body", "[http][chunked]") {
    for (const Valid& v : kValid) {
        for (size_t cut = 0; cut <= v.input.size(); ++cut) {
            INFO("input: " << v.input << " cut at " << cut);
            ChunkedDecoder d;
            Outcome o = run(d, {v.input.substr(0, cut), v.input.substr(cut)});
            CHECK(o.status == Status::done);
            CHECK(o.body == v.body);
            CHECK(o.consumed == v.input.size());
        }
        std::vector<std::string> bytes;
        for (char c : v.input)
            bytes.emplace_back(1, c);
        ChunkedDecoder d;
        Outcome o = run(d, bytes);
        CHECK(o.status == Status::done);
        CHECK(o.body == v.body);
    }
}

TEST_CASE("chunked: bytes after the body are left alone", "[http][chunked]") {
    std::string input = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
    ChunkedDecoder d;
    Outcome o = run(d, {input});
    CHECK(o.status == Status::done);
    CHECK(o.body == "abc");
    CHECK(input.substr(o.consumed) == "HTTP/1.1 200 OK\r\n");
    CHECK(d.done());
    ChunkedDecoder::Result again = d.decode("more");
    CHECK(again.status == Status::done);
    CHECK(again.consumed == 0);
}

TEST_CASE("chunked: data comes out without copying, bounded by the chunk", "[http][chunked]") {
    ChunkedDecoder d;
    std::string_view in = "4\r\nabcd\r\n";
    ChunkedDecoder::Result r = d.decode(in);
    REQUIRE(r.status == Status::data);
    CHECK(r.data == "abcd");
    CHECK(r.data.data() == in.data() + 3);
    CHECK(r.consumed == 7);
    CHECK(d.chunk_remaining() == 0);

    ChunkedDecoder partial;
    r = partial.decode("10\r\nabc");
    REQUIRE(r.status == Status::data);
    CHECK(r.data == "abc");
    CHECK(partial.chunk_remaining() == 13);
}

TEST_CASE("chunked: invalid framing is an error", "[http][chunked]") {
    const std::vector<std::string> invalid = {
        "",  // (checked below: needs more, not an error)
        "g\r\n",
        "\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "0x5\r\nhello\r\n",
        "5\nhello\r\n0\r\n\r\n",     // bare LF after the size
        "5\r\nhello\n0\r\n\r\n",     // bare LF after the data
        "5\r\nhelloX\r\n0\r\n\r\n",  // more data than the size
        "5\r\nhell\r\n\r\n",         // less data than the size
        "5;ext\nhello\r\n",          // LF in an extension
        "5\r\r\nhello\r\n",          // CR without LF
        "0\r\n\n",                   // bare LF ending the body
        "0\r\nX-T: 1\n\r\n",         // bare LF ending a trailer
        "0\r\n\rX",                  // CR then not LF
        "5,\r\nhello\r\n",
        "8000000000000000\r\n",  // 2^63: beyond nginx's limit
        "ffffffffffffffffff\r\n",
    };
    for (size_t i = 1; i < invalid.size(); ++i) {
        INFO("input: " << invalid[i]);
        CHECK(run_whole(invalid[i]).status == Status::error);
    }
    CHECK(run_whole(invalid[0]).status == Status::need_more);

    ChunkedDecoder d;
    REQUIRE(d.decode("zz").status == Status::error);
    CHECK(d.decode("0\r\n\r\n").status == Status::error);  // errors stick
}

TEST_CASE("chunked: the largest chunk size is accepted", "[http][chunked]") {
    ChunkedDecoder d;
    ChunkedDecoder::Result r = d.decode("7fffffffffffffff\r\nx");
    REQUIRE(r.status == Status::data);
    CHECK(d.chunk_remaining() == static_cast<uint64_t>(INT64_MAX) - 1);
}

TEST_CASE("chunked: size lines and trailers are bounded", "[http][chunked]") {
    ChunkedDecoder::Limits limits;
    limits.max_size_line = 8;
    limits.max_trailers = 16;
    CHECK(run_whole("5;abcde\r\nhello\r\n0\r\n\r\n", limits).status == Status::done);
    CHECK(run_whole("5;abcdef\r\nhello\r\n0\r\n\r\n", limits).status == Status::error);
    CHECK(run_whole("000000005\r\nhello\r\n0\r\n\r\n", limits).status == Status::error);
    // 16 bytes of trailer section: "A: 123456789" CRLF CRLF
    CHECK(run_whole("0\r\nA: 123456789\r\n\r\n", limits).status == Status::done);
    CHECK(run_whole("0\r\nA: 1234567890\r\n\r\n", limits).status == Status::error);
    CHECK(run_whole("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).status == Status::error);
    limits.max_trailers = 1;
    CHECK(run_whole("0\r\n\r\n", limits).status == Status::error);
    limits.max_trailers = 2;
    CHECK(run_whole("0\r\n\r\n", limits).status == Status::done);
}

TEST_CASE("chunked: writing chunk headers", "[http][chunked]") {
    char buf[max_chunk_header_size];
    auto header = [&](uint64_t n) { return std::string(buf, write_chunk_header(n, buf)); };
    CHECK(header(0) == "0\r\n");
    CHECK(header(1) == "1\r\n");
    CHECK(header(255) == "ff\r\n");
    CHECK(header(4096) == "1000\r\n");
    CHECK(header(UINT64_MAX) == "ffffffffffffffff\r\n");

    // A body written with these pieces decodes back.
    std::string body =
        header(5) + "hello" + "\r\n" + header(1) + "!" + "\r\n" + std::string(last_chunk);
    Outcome o = run_whole(body);
    CHECK(o.status == Status::done);
    CHECK(o.body == "hello!");
}
