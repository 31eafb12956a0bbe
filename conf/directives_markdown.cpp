// The README's table of directives, generated from the directive table so that the
// documentation cannot drift from the code (`ferry --directives-markdown`).
#include <fmt/format.h>

#include <algorithm>

#include "conf/directive_table.h"

namespace ferry::conf {
namespace {

std::string contexts_text(uint32_t mask) {
    if ((mask & ctx_any) == ctx_any) return "any";
    static constexpr std::pair<Context, std::string_view> names[] = {
        {ctx_main, "main"},     {ctx_events, "events"},     {ctx_http, "http"},
        {ctx_server, "server"}, {ctx_location, "location"}, {ctx_upstream, "upstream"},
    };
    std::string out;
    for (const auto& [bit, name] : names) {
        if (!(mask & bit)) continue;
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

std::vector<const DirectiveRow*> sorted_rows(Support support) {
    std::vector<const DirectiveRow*> rows;
    for (const DirectiveRow* r : all_directives()) {
        if (r->support == support) rows.push_back(r);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const DirectiveRow* a, const DirectiveRow* b) {
        return a->name < b->name;
    });
    return rows;
}

std::string name_list(const std::vector<const DirectiveRow*>& rows) {
    std::string out;
    std::string_view last;
    for (const DirectiveRow* r : rows) {
        if (r->name == last) continue;
        last = r->name;
        if (!out.empty()) out += ", ";
        out += fmt::format("`{}`", r->name);
    }
    return out;
}

}  // namespace

std::string directives_markdown() {
    std::string out;
    out += "| Directive | Contexts | Notes |\n|---|---|---|\n";
    for (const DirectiveRow* r : sorted_rows(Support::yes)) {
        out += fmt::format("| `{}` | {} | {} |\n", r->name, contexts_text(r->contexts), r->note);
    }
    out +=
        "\nAccepted with a warning that ferry serves no files (a location with neither "
        "`proxy_pass` nor `return` answers 404): ";
    out += name_list(sorted_rows(Support::files)) + ".\n";
    out += "\nAccepted and ignored, with a `[warn] \"X\" is ignored by ferry` line: ";
    out += name_list(sorted_rows(Support::ignored)) + ".\n";
    out +=
        "\nRefused, because ferry does not implement them and their absence would change "
        "security or routing (`ferry -t` says so):\n\n";
    out += "| Directive | What ferry does not implement | Accepted value |\n|---|---|---|\n";
    for (const DirectiveRow* r : sorted_rows(Support::refused)) {
        std::string harmless =
            r->harmless_value.empty() ? "" : fmt::format("`{}`", r->harmless_value);
        out += fmt::format("| `{}` | {} | {} |\n", r->name, r->note, harmless);
    }
    return out;
}

}  // namespace ferry::conf
