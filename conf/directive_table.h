// The directive table, in the spirit of nginx's ngx_command_t: one row per directive
// and context set, saying where it may appear, how many arguments it takes, and what
// ferry does with it (a handler that validates and stores, or a policy for nginx
// directives ferry does not implement). Shape checks are generic and worded as nginx.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "conf/syntax.h"

namespace ferry::conf {

class Builder;

// Where a directive may appear (nginx's *_CONF bits).
enum Context : uint32_t {
    ctx_main = 1u << 0,
    ctx_events = 1u << 1,
    ctx_http = 1u << 2,
    ctx_server = 1u << 3,
    ctx_location = 1u << 4,
    ctx_upstream = 1u << 5,
    ctx_server_if = 1u << 6,    // "if" inside server (ferry refuses "if")
    ctx_location_if = 1u << 7,  // "if" inside location
    ctx_limit_except = 1u << 8,
    ctx_any = 0x1ffu,
    ctx_hsl = ctx_http | ctx_server | ctx_location,
    ctx_hs = ctx_http | ctx_server,
};

// How many arguments (after the name), and the shape (nginx's NOARGS/TAKEn/FLAG/...).
enum Arity : uint32_t {
    args_0 = 1u << 0,
    args_1 = 1u << 1,
    args_2 = 1u << 2,
    args_3 = 1u << 3,
    args_4 = 1u << 4,
    args_5 = 1u << 5,
    args_6 = 1u << 6,
    args_7 = 1u << 7,
    args_flag = 1u << 8,    // exactly one, "on" or "off"
    args_1more = 1u << 9,   // one or more
    args_2more = 1u << 10,  // two or more
    args_any = 1u << 11,    // any number
    block = 1u << 12,       // ends with '{' ... '}'
    args_12 = args_1 | args_2,
    args_13 = args_1 | args_3,
    args_23 = args_2 | args_3,
    args_123 = args_1 | args_2 | args_3,
    args_1234 = args_1 | args_2 | args_3 | args_4,
};

// What ferry does with a directive.
enum class Support : uint8_t {
    yes,      // implemented: the handler stores it in the model
    ignored,  // accepted with `[warn] "X" is ignored by ferry` (only tunes nginx internals)
    files,    // accepted with a warning that ferry serves no files
    refused,  // an error: its absence would change security or routing
};

using Handler = bool (*)(Builder&, const Directive&);

struct DirectiveRow {
    constexpr DirectiveRow(std::string_view name_, uint32_t contexts_, uint32_t arity_,
                           Handler handler_, Support support_, std::string_view note_,
                           std::string_view harmless_value_ = {})
        : name(name_),
          contexts(contexts_),
          arity(arity_),
          handler(handler_),
          support(support_),
          note(note_),
          harmless_value(harmless_value_) {}

    std::string_view name;
    uint32_t contexts = 0;
    uint32_t arity = 0;
    Handler handler = nullptr;  // required for Support::yes; optional otherwise
    Support support = Support::yes;
    // For refused/ignored directives: why, as a phrase ("access control by address");
    // for implemented ones: a short description for the README.
    std::string_view note;
    // For refused directives: a single argument value that matches ferry's behaviour
    // and is therefore accepted silently (e.g. "off" for auth_basic).
    std::string_view harmless_value;
};

// Every row for `name` (several when a name exists in unrelated contexts, such as
// "server" in http and in upstream). Empty if ferry and nginx do not know it.
std::vector<const DirectiveRow*> find_directive(std::string_view name);

// All rows, in table order.
const std::vector<const DirectiveRow*>& all_directives();

// The nginx message for a directive whose terminator or argument count does not fit
// `row`, or "" if the shape is right.
std::string shape_error(const DirectiveRow& row, const Directive& d);

// Per-module tables (defined next to their handlers).
std::span<const DirectiveRow> core_directives();
std::span<const DirectiveRow> http_directives();
std::span<const DirectiveRow> proxy_directives();
std::span<const DirectiveRow> upstream_directives();
std::span<const DirectiveRow> map_directives();
std::span<const DirectiveRow> log_directives();
std::span<const DirectiveRow> ssl_directives();
std::span<const DirectiveRow> rewrite_directives();
std::span<const DirectiveRow> error_page_directives();
std::span<const DirectiveRow> static_directives();
std::span<const DirectiveRow> policy_directives();

// The markdown table of supported directives for the README (generated from the rows).
std::string directives_markdown();

}  // namespace ferry::conf
