// libFuzzer target for ResponseReader, the hand-written parser of upstream response heads:
// any bytes must give head_done, need_more or an error, never a crash; and the outcome may
// not depend on how the bytes arrive: whole, split in two where the first byte says, and
// one byte at a time (the buffer moving before every call) must agree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/response_reader.h"

namespace {

using ferry::http::ResponseReader;

struct Outcome {
    ResponseReader::Event event = ResponseReader::Event::need_more;
    int status = 0;
    size_t head_end = 0;
    std::string reason;
    std::vector<std::string> fields;
    std::string error;

    bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
    if (!ok) std::abort();
}

// Feeds `input` cut at `cuts` (ascending offsets), interim heads skipped as callers do.
Outcome run(std::string_view input, const std::vector<size_t>& cuts) {
    ResponseReader r;
    r.begin(0);
    std::string buf;
    size_t from = 0;
    Outcome o;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        size_t to = i < cuts.size() ? cuts[i] : input.size();
        std::string moved(input.substr(0, to));  // a new place every time
        buf.swap(moved);
        for (;;) {
            size_t consumed = 0;
            o.event = r.parse(buf.data(), from, to, consumed);
            check(from + consumed <= to);
            from += consumed;
            if (o.event == ResponseReader::Event::need_more) {
                check(from == to);
                break;
            }
            if (o.event == ResponseReader::Event::error) {
                o.error = r.error();
                return o;
            }
            check(r.head_end() == from && r.head_start() < r.head_end());
            o.status = r.status();
            check(o.status >= 0 && o.status <= 999);
            if (o.status >= 100 && o.status < 200 && o.status != 101) {
                r.begin(from);
                continue;
            }
            o.head_end = r.head_end();
            o.reason = r.reason();
            const char* lo = buf.data() + r.head_start();
            const char* hi = buf.data() + r.head_end();
            for (const auto& f : r.headers()) {
                check(f.name.data() >= lo && f.name.data() + f.name.size() <= hi);
                check(!f.name.empty());
                check(f.value.data() >= lo && f.value.data() + f.value.size() <= hi);
                check(f.value.find_first_of(std::string_view("\r\n\0", 3)) == f.value.npos);
                o.fields.push_back(std::string(f.name) + '\n' + std::string(f.value));
            }
            return o;
        }
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 16384) return 0;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Outcome whole = run(input, {});
    if (size > 0) {
        size_t cut = data[0] % size;
        check(run(input, {cut}) == whole);
    }
    std::vector<size_t> bytes;
    for (size_t i = 1; i < size; ++i)
        bytes.push_back(i);
    check(run(input, bytes) == whole);
    return 0;
}
