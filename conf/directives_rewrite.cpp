// return, set (from nginx's rewrite module) and add_header (headers module).
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {
namespace {

std::optional<ReturnConf>& return_slot(Builder& b) {
    return b.location ? b.location->conf->ret : b.server->conf->ret;
}

std::vector<SetVar>& sets_slot(Builder& b) {
    return b.location ? b.location->conf->sets : b.server->conf->sets;
}

bool return_directive(Builder& b, const Directive& d) {
    ReturnConf ret;
    ret.loc = d.loc;
    const Arg& first = d.args[0];
    std::optional<int64_t> code = parse_number(first.text);
    const Arg* text = nullptr;
    if (!code) {
        bool url = first.text.rfind("http://", 0) == 0 || first.text.rfind("https://", 0) == 0 ||
                   first.text.rfind("$scheme", 0) == 0;
        if (d.args.size() != 1 || !url) {
            return b.error(first.loc,
                           fmt::format("invalid return code \"{}\"", printable(first.text)));
        }
        ret.code = 302;
        text = &first;
    } else {
        if (*code > 999) {
            return b.error(first.loc,
                           fmt::format("invalid return code \"{}\"", printable(first.text)));
        }
        ret.code = static_cast<int>(*code);
        if (d.args.size() == 2) text = &d.args[1];
    }
    if (text) {
        Template t;
        if (!b.compile(*text, t)) return false;
        ret.text = std::move(t);
    }
    auto& slot = return_slot(b);
    if (slot) {
        b.warn(d.loc, "this \"return\" is never reached",
               fmt::format("the \"return\" at {} answers first", slot->loc.to_string()));
        return true;
    }
    slot = std::move(ret);
    return true;
}

bool set_directive(Builder& b, const Directive& d) {
    const Arg& var = d.args[0];
    if (var.text.size() < 2 || var.text[0] != '$') {
        return b.error(var.loc, fmt::format("invalid variable name \"{}\"", printable(var.text)));
    }
    std::string name = var.text.substr(1);
    if (VariableRegistry::is_builtin(name)) {
        return b.error(var.loc, fmt::format("the duplicate \"{}\" variable", printable(name)));
    }
    if (b.vars.is_map(name)) {
        return b.error(var.loc, fmt::format("ferry cannot \"set\" the map variable \"${}\"", name),
                       "give the set variable another name");
    }
    SetVar set;
    set.loc = d.loc;
    set.id = b.vars.add_set(name);
    if (!b.compile(d.args[1], set.value)) return false;
    // As in nginx, nothing after a `return` at the same level runs.
    if (return_slot(b)) {
        b.warn(d.loc, "this \"set\" is never reached",
               fmt::format("the \"return\" at {} answers first", return_slot(b)->loc.to_string()));
        return true;
    }
    sets_slot(b).push_back(std::move(set));
    return true;
}

bool add_header(Builder& b, const Directive& d) {
    AddHeader h;
    h.name = d.args[0].text;
    h.loc = d.loc;
    if (!b.compile(d.args[1], h.value)) return false;
    if (d.args.size() == 3) {
        if (d.args[2].text != "always") return b.invalid_parameter(d.args[2]);
        h.always = true;
    }
    auto& list = b.loc_settings().add_headers;
    if (!list) list.emplace();
    list->push_back(std::move(h));
    return true;
}

bool add_header_inherit(Builder& b, const Directive& d) {
    auto& s = b.loc_settings().add_header_inherit;
    if (s) return b.duplicate(d);
    const std::string& v = d.args[0].text;
    if (v == "on") {
        s = AddHeaderInherit::on;
    } else if (v == "off") {
        s = AddHeaderInherit::off;
    } else if (v == "merge") {
        s = AddHeaderInherit::merge;
    } else {
        return b.error(d.args[0].loc, fmt::format("invalid value \"{}\"", printable(v)));
    }
    return true;
}

constexpr DirectiveRow rows[] = {
    {"return", ctx_server | ctx_location | ctx_server_if | ctx_location_if, args_12,
     return_directive, Support::yes, "answer with a status, a body text or a redirect URL"},
    {"set", ctx_server | ctx_location | ctx_server_if | ctx_location_if, args_2, set_directive,
     Support::yes, "set a variable for the request"},
    {"add_header", ctx_hsl | ctx_location_if, args_23, add_header, Support::yes,
     "response header [always]; inherited only by levels that add none"},
    {"add_header_inherit", ctx_hsl | ctx_location_if, args_1, add_header_inherit, Support::yes,
     "on, off or merge: how a level with its own add_header inherits its parent's"},
};

}  // namespace

std::span<const DirectiveRow> rewrite_directives() {
    return rows;
}

}  // namespace ferry::conf
