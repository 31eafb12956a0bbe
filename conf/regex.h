// A compiled PCRE2 regular expression (nginx's regex dialect), with captures.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace ferry::conf {

// Capture offsets of the last match: pairs of [start, end) byte offsets, -1 when unset.
struct Captures {
    std::vector<int> offsets;  // 2 * (1 + number of groups)
    int count() const { return static_cast<int>(offsets.size() / 2); }
    // The text of group `n` in `subject` ("" when the group did not take part).
    std::string_view group(std::string_view subject, int n) const;
};

class Regex {
  public:
    // Compiles `pattern` (JIT-compiled where PCRE2 supports it); on failure returns
    // nullptr and sets `error` to nginx's wording, e.g.
    // `pcre2_compile() failed: missing closing parenthesis in "^/(a"`.
    static std::shared_ptr<const Regex> compile(std::string_view pattern, bool caseless,
                                                std::string& error);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // True if `subject` matches. With `captures`, fills the capture offsets.
    // Thread-safe (the match data is per thread).
    bool match(std::string_view subject, Captures* captures = nullptr) const;

    const std::string& pattern() const { return pattern_; }
    bool caseless() const { return caseless_; }
    int capture_count() const { return capture_count_; }
    // Named groups and their numbers, e.g. {"user", 1}.
    const std::vector<std::pair<std::string, int>>& names() const { return names_; }

  private:
    Regex() = default;
    pcre2_real_code_8* code_ = nullptr;
    std::string pattern_;
    bool caseless_ = false;
    int capture_count_ = 0;
    std::vector<std::pair<std::string, int>> names_;
};

}  // namespace ferry::conf
