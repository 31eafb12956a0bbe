// log_format and access_log (nginx's ngx_http_log_module).
#include <fmt/format.h>

#include "conf/builder.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {

// nginx's predefined "combined" format.
bool make_combined_format(Builder& b, LogFormat& out) {
    Arg a;
    a.text =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
        "\"$http_referer\" \"$http_user_agent\"";
    out.name = "combined";
    return b.compile(a, out.format);
}

namespace {

bool log_format(Builder& b, const Directive& d) {
    HttpConf& http = b.http->conf;
    const std::string& name = d.args[0].text;
    for (const LogFormat& f : http.log_formats) {
        if (f.name == name) {
            return b.error(d.args[0].loc,
                           fmt::format("duplicate \"log_format\" name \"{}\"", printable(name)));
        }
    }
    LogFormat f;
    f.name = name;
    f.loc = d.loc;
    size_t first = 1;
    const std::string& maybe_escape = d.args[1].text;
    if (maybe_escape.rfind("escape=", 0) == 0) {
        std::string_view kind = std::string_view(maybe_escape).substr(7);
        if (kind == "default") {
            f.escape = LogFormat::Escape::standard;
        } else if (kind == "json") {
            f.escape = LogFormat::Escape::json;
        } else if (kind == "none") {
            f.escape = LogFormat::Escape::none;
        } else {
            return b.error(d.args[1].loc,
                           fmt::format("unknown log format escaping \"{}\"", printable(kind)));
        }
        first = 2;
        if (d.args.size() < 3) {
            return b.error(d.loc, "invalid number of arguments in \"log_format\" directive");
        }
    }
    // The format is the concatenation of the remaining arguments, as in nginx.
    Arg joined = d.args[first];
    for (size_t i = first + 1; i < d.args.size(); ++i)
        joined.text += d.args[i].text;
    if (!b.compile(joined, f.format)) return false;
    http.log_formats.push_back(std::move(f));
    return true;
}

int find_format(const HttpConf& http, std::string_view name) {
    for (size_t i = 0; i < http.log_formats.size(); ++i) {
        if (http.log_formats[i].name == name) return static_cast<int>(i);
    }
    return -1;
}

bool access_log_option(Builder& b, const Arg& a, AccessLogConf& log) {
    const std::string& v = a.text;
    if (v.rfind("buffer=", 0) == 0) {
        if (!parse_size(std::string_view(v).substr(7))) {
            return b.error(a.loc,
                           fmt::format("invalid buffer size \"{}\"", printable(v.substr(7))));
        }
    } else if (v.rfind("flush=", 0) == 0) {
        if (!parse_time(std::string_view(v).substr(6), false)) {
            return b.error(a.loc, fmt::format("invalid flush time \"{}\"", printable(v.substr(6))));
        }
    } else if (v == "gzip" || v.rfind("gzip=", 0) == 0) {
        b.warn(a.loc, "the \"gzip\" parameter of \"access_log\" is ignored by ferry",
               "ferry writes log lines uncompressed");
    } else if (v.rfind("if=", 0) == 0) {
        Arg cond = a;
        cond.text = v.substr(3);
        cond.loc.column += 3;
        Template t;
        if (!b.compile(cond, t)) return false;
        log.condition = std::move(t);
    } else {
        return b.invalid_parameter(a);
    }
    return true;
}

bool access_log(Builder& b, const Directive& d) {
    auto& logs = b.loc_settings().access_logs;
    const Arg& target = d.args[0];
    if (target.text == "off") {
        if (d.args.size() > 1) return b.invalid_parameter(d.args[1]);
        logs.emplace();  // engaged and empty: off at this level
        return true;
    }
    AccessLogConf log;
    log.loc = d.loc;
    if (target.text.rfind("syslog:", 0) == 0) {
        log.path = target.text;
    } else {
        Template t;
        if (!b.compile(target, t)) return false;
        if (t.has_variables()) {
            log.path = target.text;
            log.path_template = std::move(t);
        } else {
            log.path = b.full_path(target.text, false);
        }
    }
    size_t next = 1;
    if (d.args.size() > 1) {  // as in nginx, the second argument is always the format
        int index = find_format(b.http->conf, d.args[1].text);
        if (index < 0) {
            return b.error(d.args[1].loc,
                           fmt::format("unknown log format \"{}\"", printable(d.args[1].text)),
                           "log_format must be defined before the access_log that uses it");
        }
        log.format = index;
        next = 2;
    }
    for (size_t i = next; i < d.args.size(); ++i) {
        if (!access_log_option(b, d.args[i], log)) return false;
    }
    if (!logs) logs.emplace();
    logs->push_back(std::move(log));
    return true;
}

constexpr DirectiveRow rows[] = {
    {"log_format", ctx_http, args_2more, log_format, Support::yes,
     "named access log line format, escape=default|json|none"},
    {"access_log", ctx_hsl | ctx_location_if | ctx_limit_except, args_1more, access_log,
     Support::yes, "path [format [buffer=] [flush=] [if=]] or off"},
};

}  // namespace

std::span<const DirectiveRow> log_directives() {
    return rows;
}

}  // namespace ferry::conf
