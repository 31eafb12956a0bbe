// Static files (nginx's core, index and try_files modules): root, alias, index,
// try_files, types, default_type and the conditional-request switches. A level that
// names any of root/alias/index/try_files serves files where no proxy_pass or return
// answers.
#include <fmt/format.h>

#include <algorithm>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {
namespace {

bool root_or_alias(Builder& b, const Directive& d) {
    bool alias = d.name == "alias";
    LocSettings& s = b.loc_settings();
    if (s.root) {
        if (s.root->alias == alias) return b.duplicate(d);
        return b.error(d.loc, fmt::format("\"{}\" directive is duplicate, \"{}\" directive was "
                                          "specified earlier",
                                          d.name, s.root->alias ? "alias" : "root"));
    }
    const LocationConf* where = b.location ? b.location->conf.get() : nullptr;
    if (alias && where && where->match == LocationConf::Match::named) {
        return b.error(d.loc, "the \"alias\" directive cannot be used inside the named location");
    }
    std::string text = d.args[0].text;
    for (std::string_view v : {"document_root", "realpath_root"}) {
        if (text.find(fmt::format("${}", v)) != std::string::npos ||
            text.find(fmt::format("${{{}}}", v)) != std::string::npos) {
            return b.error(d.loc, fmt::format("the ${} variable cannot be used in the \"{}\" "
                                              "directive",
                                              v, d.name));
        }
    }
    if (!alias && text.size() > 1 && text.back() == '/') text.pop_back();
    RootSetting r;
    r.alias = alias;
    r.prefix = b.full_path("", false);
    if (!text.empty() && text[0] != '$') text = b.full_path(text, false);
    Arg a = d.args[0];
    a.text = text;
    if (!b.compile(a, r.path)) return false;
    if (alias && where) {
        bool regex = where->match == LocationConf::Match::regex ||
                     where->match == LocationConf::Match::regex_icase;
        r.alias_regex = regex;
        r.alias_strip = regex ? 0 : where->pattern.size();
    }
    s.root = std::move(r);
    s.serves_files = true;
    return true;
}

bool index(Builder& b, const Directive& d) {
    LocSettings& s = b.loc_settings();
    if (!s.index) s.index.emplace();
    for (const Arg& a : d.args) {
        if (a.text.empty()) {
            return b.error(a.loc, fmt::format("index \"{}\" in \"index\" directive is invalid",
                                              printable(a.text)));
        }
        Template t;
        if (!b.compile(a, t)) return false;
        s.index->push_back(std::move(t));
    }
    s.serves_files = true;
    return true;
}

bool try_files(Builder& b, const Directive& d) {
    LocSettings& s = b.loc_settings();
    if (s.try_files) return b.duplicate(d);
    std::vector<TryFile> list;
    for (size_t i = 0; i < d.args.size(); ++i) {
        const Arg& a = d.args[i];
        TryFile f;
        bool last = i + 1 == d.args.size();
        if (last && a.text.size() > 1 && a.text[0] == '=') {
            std::optional<int64_t> code = parse_number(std::string_view(a.text).substr(1));
            if (!code || *code > 999) return b.invalid_value_in(d, a);
        }
        if (!last && !a.text.empty() && a.text.back() == '/') f.directory = true;
        Arg compiled = a;
        if (f.directory) compiled.text.pop_back();
        if (!b.compile(compiled, f.name)) return false;
        list.push_back(std::move(f));
    }
    s.try_files = std::move(list);
    s.serves_files = true;
    return true;
}

bool types(Builder& b, const Directive& d) {
    LocSettings& s = b.loc_settings();
    if (s.types) return b.duplicate(d);
    auto types = std::make_shared<MimeTypes>();
    auto& list = types->by_extension;
    for (const Directive& line : d.block) {
        if (line.has_block) return b.error(line.terminator, "unexpected \"{\"");
        for (const Arg& a : line.args) {
            std::string ext = to_lower(a.text);
            auto same = std::find_if(list.begin(), list.end(),
                                     [&](const auto& e) { return e.first == ext; });
            if (same != list.end()) {
                b.warn(a.loc, fmt::format("duplicate extension \"{}\", content type: \"{}\", "
                                          "previous content type: \"{}\"",
                                          ext, line.name, same->second));
                same->second = line.name;
                continue;
            }
            list.emplace_back(ext, line.name);
        }
    }
    std::sort(list.begin(), list.end());
    s.types = std::move(types);
    return true;
}

bool if_modified_since(Builder& b, const Directive& d) {
    auto& slot = b.loc_settings().if_modified_since;
    if (slot) return b.duplicate(d);
    const std::string& v = d.args[0].text;
    using Ims = StaticConf::IfModifiedSince;
    if (v == "off") {
        slot = Ims::off;
    } else if (v == "exact") {
        slot = Ims::exact;
    } else if (v == "before") {
        slot = Ims::before;
    } else {
        return b.invalid_value_in(d, d.args[0], "it must be \"off\", \"exact\" or \"before\"");
    }
    return true;
}

constexpr DirectiveRow rows[] = {
    {"root", ctx_hsl | ctx_location_if, args_1, root_or_alias, Support::yes,
     "directory files are served from ($document_root + $uri)"},
    {"alias", ctx_location, args_1, root_or_alias, Support::yes,
     "directory replacing the location's prefix (a regex location: the whole path)"},
    {"index", ctx_hsl, args_1more, index, Support::yes,
     "files tried, in order, for a URI ending in '/'"},
    {"try_files", ctx_server | ctx_location, args_2more, try_files, Support::yes,
     "files ($uri, $uri/ for directories) tried in order, then a URI, =code or @named"},
    {"types", ctx_hsl, block | args_0, types, Support::yes,
     "MIME type by file extension (include mime.types)"},
    {"default_type", ctx_hsl, args_1, set_string<&LocSettings::default_type>, Support::yes,
     "MIME type of files whose extension has none"},
    {"etag", ctx_hsl, args_flag, set_flag<&LocSettings::etag>, Support::yes,
     "ETag on file responses (If-None-Match)"},
    {"if_modified_since", ctx_hsl, args_1, if_modified_since, Support::yes,
     "how If-Modified-Since compares: off, exact, before"},
    {"log_not_found", ctx_hsl, args_flag, set_flag<&LocSettings::log_not_found>, Support::yes,
     "log missing files in the error log"},
};

}  // namespace

const std::string* MimeTypes::find(std::string_view ext) const {
    std::string lower = to_lower(ext);
    auto it = std::lower_bound(by_extension.begin(), by_extension.end(), lower,
                               [](const auto& e, const std::string& k) { return e.first < k; });
    if (it == by_extension.end() || it->first != lower) return nullptr;
    return &it->second;
}

std::span<const DirectiveRow> static_directives() {
    return rows;
}

}  // namespace ferry::conf
