// Host names with nginx's wildcards, as `server_name` and `map ... { hostnames; }` use
// them: exact names, "*.example.com" (any subdomain), ".example.com" (the domain and any
// subdomain) and "www.example.*" (any last labels). Lookup order is nginx's: exact,
// then the longest leading wildcard, then the longest trailing wildcard.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ferry::conf {

// Lets unordered maps keyed by std::string be searched with a string_view (no copy).
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class HostnameTable {
  public:
    enum class AddResult { ok, invalid, conflict };

    // Adds `name` (case-insensitive) with `value`. `invalid`: not a host name or a
    // supported wildcard (two '*', "..", a '*' in the middle); `conflict`: already there.
    AddResult add(std::string_view name, int value);

    // The value for `host` (already lowercase, no trailing dot), or -1.
    int find(std::string_view host) const;

    // True if `name` is one of the three wildcard forms.
    static bool is_wildcard(std::string_view name);

    bool empty() const { return exact_.empty() && head_.empty() && tail_.empty(); }

  private:
    struct HeadEntry {
        int value = -1;      // "*.suffix": subdomains only
        int dot_value = -1;  // ".suffix": the suffix itself and subdomains
    };
    StringMap<int> exact_;
    StringMap<HeadEntry> head_;  // keyed by suffix "example.com"
    StringMap<int> tail_;        // keyed by prefix "www.example"
};

// ASCII lowercase copy.
std::string to_lower(std::string_view text);

}  // namespace ferry::conf
