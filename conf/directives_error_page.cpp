// error_page and recursive_error_pages (nginx's ngx_http_core_module): which response
// answers an error status, by internal redirect to a URI, to a named location, or by a
// redirect to a URL.
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {
namespace {

// "=" or "=CODE" before the target. Returns false on a bad value (reported).
bool parse_overwrite(Builder& b, const Arg& a, int& overwrite) {
    if (a.text.size() == 1) {
        overwrite = 0;
        return true;
    }
    std::optional<int64_t> code = parse_number(std::string_view(a.text).substr(1));
    if (!code || *code > 999) {
        return b.error(a.loc, fmt::format("invalid value \"{}\"", printable(a.text)));
    }
    overwrite = static_cast<int>(*code);
    return true;
}

bool error_page(Builder& b, const Directive& d) {
    size_t last = d.args.size() - 1;
    size_t codes_end = last;
    int overwrite = -1;
    if (d.args[last - 1].text.rfind('=', 0) == 0) {
        if (last - 1 == 0) {
            return b.error(d.args[0].loc,
                           fmt::format("invalid value \"{}\"", printable(d.args[0].text)));
        }
        if (!parse_overwrite(b, d.args[last - 1], overwrite)) return false;
        codes_end = last - 1;
    }
    const Arg& target = d.args[last];
    ErrorPage page;
    page.overwrite = overwrite;
    page.loc = d.loc;
    std::string text = target.text;
    // A literal "/uri?args": the arguments are kept apart, as nginx splits them.
    if (!text.empty() && text[0] == '/' && text.find('$') == std::string::npos) {
        size_t q = text.find('?');
        if (q != std::string::npos) {
            page.args = text.substr(q + 1);
            text.resize(q);
        }
    }
    Arg compiled = target;
    compiled.text = text;
    if (!b.compile(compiled, page.target)) return false;

    auto& list = b.loc_settings().error_pages;
    if (!list) list.emplace();
    for (size_t i = 0; i < codes_end; ++i) {
        const Arg& a = d.args[i];
        std::optional<int64_t> code = parse_number(a.text);
        if (!code || *code == 499) {
            return b.error(a.loc, fmt::format("invalid value \"{}\"", printable(a.text)));
        }
        if (*code < 300 || *code > 599) {
            return b.error(
                a.loc, fmt::format("value \"{}\" must be between 300 and 599", printable(a.text)));
        }
        ErrorPage p = page;
        p.status = static_cast<int>(*code);
        // ferry's internal statuses for bad requests are answered as the 400 they are.
        if (overwrite == -1 &&
            (p.status == 494 || p.status == 495 || p.status == 496 || p.status == 497)) {
            p.overwrite = 400;
        }
        list->push_back(std::move(p));
    }
    return true;
}

constexpr DirectiveRow rows[] = {
    {"error_page", ctx_hsl | ctx_location_if, args_2more, error_page, Support::yes,
     "URI, @named location or URL answering the listed statuses, [=[code]] for the status "
     "sent"},
    {"recursive_error_pages", ctx_hsl, args_flag, set_flag<&LocSettings::recursive_error_pages>,
     Support::yes, "let an error page's own errors use error_page again"},
};

}  // namespace

std::span<const DirectiveRow> error_page_directives() {
    return rows;
}

}  // namespace ferry::conf
