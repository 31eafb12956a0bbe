#include "conf/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

namespace ferry::conf {
namespace {

// One match-data block per thread, grown to the largest capture count seen, so a match
// allocates nothing once warm.
struct ThreadMatchData {
    pcre2_match_data* data = nullptr;
    uint32_t pairs = 0;
    ~ThreadMatchData() {
        if (data) pcre2_match_data_free(data);
    }
    pcre2_match_data* get(uint32_t want) {
        if (data && pairs >= want) return data;
        if (data) pcre2_match_data_free(data);
        pairs = std::max<uint32_t>(want, 10);
        data = pcre2_match_data_create(pairs, nullptr);
        return data;
    }
};

thread_local ThreadMatchData match_data;

}  // namespace

std::string_view Captures::group(std::string_view subject, int n) const {
    if (n < 0 || n >= count()) return {};
    int start = offsets[2 * n], end = offsets[2 * n + 1];
    if (start < 0 || end < start || static_cast<size_t>(end) > subject.size()) return {};
    return subject.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
}

std::shared_ptr<const Regex> Regex::compile(std::string_view pattern, bool caseless,
                                            std::string& error) {
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    uint32_t options = caseless ? PCRE2_CASELESS : 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     options, &errcode, &erroff, nullptr);
    if (code == nullptr) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(errcode, buf, sizeof buf);
        const char* reason = reinterpret_cast<const char*>(buf);
        if (erroff >= pattern.size()) {
            error = fmt::format("pcre2_compile() failed: {} in \"{}\"", reason, pattern);
        } else {
            error = fmt::format("pcre2_compile() failed: {} in \"{}\" at \"{}\"", reason, pattern,
                                pattern.substr(erroff));
        }
        return nullptr;
    }
    // JIT is an optimisation: when the platform lacks it, matching falls back silently.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

    std::shared_ptr<Regex> re(new Regex());
    re->code_ = code;
    re->pattern_ = std::string(pattern);
    re->caseless_ = caseless;
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    re->capture_count_ = static_cast<int>(captures);

    uint32_t name_count = 0, entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &name_count);
    if (name_count > 0) {
        pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
        pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
        for (uint32_t i = 0; i < name_count; ++i) {
            const unsigned char* entry = table + i * entry_size;
            int number = (entry[0] << 8) | entry[1];
            re->names_.emplace_back(reinterpret_cast<const char*>(entry + 2), number);
        }
    }
    return re;
}

Regex::~Regex() {
    if (code_) pcre2_code_free(code_);
}

bool Regex::match(std::string_view subject, Captures* captures) const {
    uint32_t pairs = static_cast<uint32_t>(capture_count_) + 1;
    pcre2_match_data* md = match_data.get(pairs);
    if (md == nullptr) return false;
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                         md, nullptr);
    if (rc < 0) return false;
    if (captures) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        captures->offsets.assign(2 * pairs, -1);
        // rc is the number of pairs set; the rest stay -1 (groups that did not match).
        for (uint32_t i = 0; i < static_cast<uint32_t>(rc) && i < pairs; ++i) {
            if (ov[2 * i] == PCRE2_UNSET) continue;
            captures->offsets[2 * i] = static_cast<int>(ov[2 * i]);
            captures->offsets[2 * i + 1] = static_cast<int>(ov[2 * i + 1]);
        }
    }
    return true;
}

}  // namespace ferry::conf
