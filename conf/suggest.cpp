#include "conf/suggest.h"

#include <algorithm>

namespace ferry::conf {

// Optimal string alignment: Levenshtein plus swaps of adjacent bytes ("hots" -> "host"),
// the commonest typo.
size_t edit_distance(std::string_view a, std::string_view b) {
    const size_t w = b.size() + 1;
    std::vector<size_t> d((a.size() + 1) * w);
    for (size_t i = 0; i <= a.size(); ++i)
        d[i * w] = i;
    for (size_t j = 0; j <= b.size(); ++j)
        d[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = std::min(
                {d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1, d[(i - 1) * w + j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                best = std::min(best, d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    return d[a.size() * w + b.size()];
}

std::string closest_name(std::string_view name, const std::vector<std::string_view>& candidates) {
    // Typos of a few letters; beyond that a suggestion is more confusing than helpful.
    size_t limit = std::max<size_t>(1, std::min<size_t>(name.size() / 3, 4));
    size_t best = limit + 1;
    std::string_view found;
    for (std::string_view c : candidates) {
        size_t len_gap = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
        if (len_gap > limit) continue;
        size_t d = edit_distance(name, c);
        if (d < best) {
            best = d;
            found = c;
        }
    }
    return std::string(found);
}

}  // namespace ferry::conf
