#include "conf/builder.h"

#include <fmt/format.h>

#include "conf/lexer.h"
#include "conf/suggest.h"

namespace ferry::conf {

std::string_view context_name(Context ctx) {
    switch (ctx) {
        case ctx_main:
            return "main";
        case ctx_events:
            return "events";
        case ctx_http:
            return "http";
        case ctx_server:
            return "server";
        case ctx_location:
            return "location";
        case ctx_upstream:
            return "upstream";
        case ctx_server_if:
        case ctx_location_if:
            return "if";
        case ctx_limit_except:
            return "limit_except";
        default:
            return "?";
    }
}

namespace {

std::string allowed_contexts(uint32_t mask) {
    std::string out;
    for (Context c : {ctx_main, ctx_events, ctx_http, ctx_server, ctx_location, ctx_upstream}) {
        if (!(mask & c)) continue;
        if (!out.empty()) out += ", ";
        out += context_name(c);
    }
    return out;
}

}  // namespace

Builder::Builder(std::string prefix, std::string conf_prefix, Diagnostics& diags)
    : prefix_(std::move(prefix)), conf_prefix_(std::move(conf_prefix)), diags_(diags) {
    config.prefix = prefix_;
}

bool Builder::error(const SourceLoc& loc, std::string message, std::string hint) {
    diags_.push_back(Diagnostic{LogLevel::emerg, std::move(message), loc, std::move(hint)});
    return false;
}

void Builder::warn(const SourceLoc& loc, std::string message, std::string hint) {
    diags_.push_back(Diagnostic{LogLevel::warn, std::move(message), loc, std::move(hint)});
}

void Builder::warn_ignored(const Directive& d, std::string_view note) {
    if (!warned_ignored.insert(d.name).second) return;
    warn(d.loc, fmt::format("\"{}\" is ignored by ferry", printable(d.name)), std::string(note));
}

bool Builder::directive_error(const Directive& d, std::string_view phrase, const SourceLoc* at) {
    return error(at ? *at : d.loc, fmt::format("\"{}\" directive {}", printable(d.name), phrase));
}

bool Builder::invalid_value_in(const Directive& d, const Arg& a, std::string_view suffix) {
    std::string msg =
        fmt::format("invalid value \"{}\" in \"{}\" directive", printable(a.text), d.name);
    if (!suffix.empty()) msg += fmt::format(", {}", suffix);
    return error(a.loc, std::move(msg));
}

bool Builder::invalid_parameter(const Arg& a) {
    return error(a.loc, fmt::format("invalid parameter \"{}\"", printable(a.text)));
}

bool Builder::compile(const Arg& a, Template& out) {
    return TemplateCompiler::compile(a.text, a.loc, a.quoted, vars, out, diags_);
}

std::string Builder::full_path(std::string_view name, bool against_conf_prefix) const {
    if (!name.empty() && name[0] == '/') return std::string(name);
    return (against_conf_prefix ? conf_prefix_ : prefix_) + std::string(name);
}

LocSettings& Builder::loc_settings() {
    if (location) return location->settings;
    if (server) return server->loc;
    return http->loc;
}

SrvSettings& Builder::srv_settings() {
    if (server) return server->srv;
    return http->srv;
}

bool Builder::run(const std::vector<Directive>& command_line, const std::vector<Directive>& main) {
    prescan_variables(main);
    if (!process_block(command_line, ctx_main)) return false;
    return process_block(main, ctx_main);
}

Config Builder::take_config() {
    return std::move(config);
}

bool Builder::process_block(const std::vector<Directive>& body, Context ctx) {
    Context saved = context_;
    context_ = ctx;
    bool ok = true;
    for (const Directive& d : body) {
        if (!dispatch(d, ctx)) {
            ok = false;
            break;
        }
    }
    context_ = saved;
    return ok;
}

// Configs copied from web pages often carry “curly” quotes, which the language takes as
// ordinary characters: `Connection “”` sends the six bytes of the two quotes.
void Builder::warn_typographic_quotes(const Directive& d) {
    for (const Arg& a : d.args) {
        for (std::string_view q :
             {"\xE2\x80\x9C", "\xE2\x80\x9D", "\xE2\x80\x98", "\xE2\x80\x99"}) {
            if (a.text.find(q) == std::string::npos) continue;
            warn(a.loc,
                 fmt::format("\"{}\" contains typographic quotes, which are taken literally",
                             a.text),
                 "fix: use plain ASCII quotes (\" or ')");
            return;
        }
    }
}

bool Builder::unknown_directive(const Directive& d, Context ctx) {
    std::vector<std::string_view> here, anywhere;
    for (const DirectiveRow* row : all_directives()) {
        anywhere.push_back(row->name);
        if (row->contexts & ctx) here.push_back(row->name);
    }
    std::string near = closest_name(d.name, here);
    if (near.empty()) near = closest_name(d.name, anywhere);
    return error(d.loc, fmt::format("unknown directive \"{}\"", printable(d.name)),
                 near.empty() ? "" : fmt::format("did you mean \"{}\"?", near));
}

// A directive whose arguments run onto a later line that starts with a directive name
// was most likely missing its ';'. Adds that as the hint of the error just reported.
void Builder::hint_missing_semicolon(const Directive& d) {
    if (diags_.empty() || !diags_.back().hint.empty() || d.args.empty()) return;
    const SourceLoc& at = diags_.back().loc;
    if (at.file != d.loc.file || at.line < d.loc.line || at.line > d.args.back().loc.line) return;
    uint32_t line = d.loc.line;
    for (const Arg& a : d.args) {
        if (a.loc.line > line && !a.quoted && !find_directive(a.text).empty()) {
            diags_.back().hint = fmt::format("is a \";\" missing at the end of line {}?", line);
            return;
        }
        line = a.loc.line;
    }
}

bool Builder::dispatch(const Directive& d, Context ctx) {
    if (check(d, ctx)) return true;
    hint_missing_semicolon(d);
    return false;
}

// nginx's ngx_conf_handler(): name known, allowed here, shape right; then the policy
// for directives ferry does not implement, then the handler.
bool Builder::check(const Directive& d, Context ctx) {
    warn_typographic_quotes(d);
    std::vector<const DirectiveRow*> rows = find_directive(d.name);
    if (rows.empty()) return unknown_directive(d, ctx);
    const DirectiveRow* row = nullptr;
    uint32_t allowed = 0;
    for (const DirectiveRow* r : rows) {
        allowed |= r->contexts;
        if ((r->contexts & ctx) && !row) row = r;
    }
    if (!row) {
        return error(d.loc, fmt::format("\"{}\" directive is not allowed here", printable(d.name)),
                     fmt::format("\"{}\" is allowed in: {}", d.name, allowed_contexts(allowed)));
    }
    std::string shape = shape_error(*row, d);
    if (!shape.empty()) {
        bool terminator = shape.rfind("directive", 0) == 0;
        return error(terminator ? d.terminator : d.loc, std::move(shape));
    }
    // A policy row with a handler decides for itself (error_page looks at its target).
    if (row->support != Support::yes && row->handler) return row->handler(*this, d);
    switch (row->support) {
        case Support::yes:
            break;
        case Support::ignored:
            warn_ignored(d, row->note);
            break;
        case Support::files:
            if (warned_ignored.insert(std::string(d.name)).second) {
                warn(d.loc, fmt::format("\"{}\" is ignored: ferry serves no files", d.name),
                     "a location with neither proxy_pass nor return answers 404");
            }
            if (http && (ctx & ctx_hsl)) loc_settings().serves_files = true;
            break;
        case Support::refused:
            if (!row->harmless_value.empty() && d.args.size() == 1 &&
                d.args[0].text == row->harmless_value) {
                return true;
            }
            return error(d.loc,
                         fmt::format("ferry does not implement the \"{}\" directive ({})", d.name,
                                     row->note),
                         "without it this configuration would behave differently, so ferry "
                         "refuses it");
    }
    if (row->handler) return row->handler(*this, d);
    return true;
}

void Builder::prescan_variables(const std::vector<Directive>& main) {
    // Maps first (their ids are their order in http{}), so that a `set` of a map
    // variable is recognised as such wherever it is written.
    uint32_t map_id = 0;
    for (const Directive& h : main) {
        if (h.name != "http" || !h.has_block) continue;
        for (const Directive& d : h.block) {
            if (d.name == "map" && d.has_block && d.args.size() == 2 && d.args[1].text.size() > 1 &&
                d.args[1].text[0] == '$') {
                vars.add_map(d.args[1].text.substr(1), map_id++);
            }
        }
    }
    auto scan_regex = [&](std::string_view pattern) {
        for (const std::string& name : regex_group_names(pattern))
            vars.add_capture_name(name);
    };
    // Depth-first over everything inside http: `set` targets and regex capture names.
    auto walk = [&](auto& self, const std::vector<Directive>& body) -> void {
        for (const Directive& d : body) {
            if (d.name == "set" && d.args.size() == 2 && d.args[0].text.size() > 1 &&
                d.args[0].text[0] == '$') {
                std::string_view name = std::string_view(d.args[0].text).substr(1);
                if (!vars.is_map(name)) vars.add_set(name);
            } else if (d.name == "location" && !d.args.empty()) {
                const std::string& first = d.args[0].text;
                if (d.args.size() == 2 && (first == "~" || first == "~*")) {
                    scan_regex(d.args[1].text);
                }
                if (d.args.size() == 1 && first.size() > 1 && first[0] == '~') {
                    scan_regex(std::string_view(first).substr(first[1] == '*' ? 2 : 1));
                }
            } else if (d.name == "server_name") {
                for (const Arg& a : d.args) {
                    if (a.text.size() > 1 && a.text[0] == '~') {
                        scan_regex(std::string_view(a.text).substr(1));
                    }
                }
            } else if (d.name == "map" && d.has_block) {
                for (const Directive& line : d.block) {
                    const std::string& key = line.name;
                    if (key.size() > 1 && key[0] == '~') {
                        scan_regex(std::string_view(key).substr(key[1] == '*' ? 2 : 1));
                    }
                }
                continue;
            }
            if (d.has_block) self(self, d.block);
        }
    };
    for (const Directive& d : main) {
        if (d.name == "http" && d.has_block) walk(walk, d.block);
    }
}

}  // namespace ferry::conf
