// Top-level, events and http{} block directives, and error_log.
#include <fmt/format.h>
#include <unistd.h>

#include "conf/builder.h"
#include "conf/directive_table.h"
#include "conf/lexer.h"
#include "conf/setters.h"

namespace ferry::conf {

std::optional<bool> parse_flag(std::string_view text) {
    std::string lower = to_lower(text);
    if (lower == "on") return true;
    if (lower == "off") return false;
    return std::nullopt;
}

namespace {

bool pid(Builder& b, const Directive& d) {
    if (b.main.pid) return b.duplicate(d);
    b.main.pid = b.full_path(d.args[0].text, false);
    return true;
}

bool worker_processes(Builder& b, const Directive& d) {
    if (b.main.worker_processes) return b.duplicate(d);
    const std::string& v = d.args[0].text;
    if (v == "auto") {
        b.main.worker_processes = -1;
        return true;
    }
    std::optional<int64_t> n = parse_number(v);
    if (!n || *n > 1024 * 1024) return b.directive_error(d, "invalid value", &d.args[0].loc);
    b.main.worker_processes = static_cast<int>(*n);
    return true;
}

bool worker_connections(Builder& b, const Directive& d) {
    if (b.main.worker_connections) return b.duplicate(d);
    std::optional<int64_t> n = parse_number(d.args[0].text);
    if (!n) {
        return b.error(d.args[0].loc,
                       fmt::format("invalid number \"{}\"", printable(d.args[0].text)));
    }
    b.main.worker_connections = *n;
    return true;
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
    static constexpr std::pair<std::string_view, LogLevel> levels[] = {
        {"emerg", LogLevel::emerg}, {"alert", LogLevel::alert}, {"crit", LogLevel::crit},
        {"error", LogLevel::error}, {"warn", LogLevel::warn},   {"notice", LogLevel::notice},
        {"info", LogLevel::info},   {"debug", LogLevel::debug},
    };
    for (const auto& [n, level] : levels) {
        if (n == name) return level;
    }
    return std::nullopt;
}

bool is_debug_level(std::string_view name) {
    for (std::string_view n : {"debug_core", "debug_alloc", "debug_mutex", "debug_event",
                               "debug_http", "debug_mail", "debug_stream"}) {
        if (n == name) return true;
    }
    return false;
}

}  // namespace

// error_log FILE [LEVEL...]: in main, http, server and location.
bool error_log(Builder& b, const Directive& d) {
    ErrorLogConf log;
    log.loc = d.loc;
    const std::string& target = d.args[0].text;
    if (target == "stderr" || target.rfind("syslog:", 0) == 0 || target.rfind("memory:", 0) == 0) {
        log.path = target;
    } else {
        log.path = b.full_path(target, false);
    }
    bool level_set = false;
    for (size_t i = 1; i < d.args.size(); ++i) {
        const Arg& a = d.args[i];
        std::optional<LogLevel> level = parse_log_level(a.text);
        if (!level && is_debug_level(a.text)) level = LogLevel::debug;
        if (!level)
            return b.error(a.loc, fmt::format("invalid log level \"{}\"", printable(a.text)));
        if (level_set && a.text.rfind("debug_", 0) != 0) {
            return b.error(a.loc, fmt::format("duplicate log level \"{}\"", a.text));
        }
        log.level = *level;
        level_set = true;
    }
    if (b.context() == ctx_main) {
        b.main.error_logs.push_back(std::move(log));
    } else {
        auto& logs = b.loc_settings().error_logs;
        if (!logs) logs.emplace();
        logs->push_back(std::move(log));
    }
    return true;
}

namespace {

bool events_block(Builder& b, const Directive& d) {
    if (b.main.seen_events) return b.duplicate(d);
    b.main.seen_events = true;
    return b.process_block(d.block, ctx_events);
}

LogFormat combined_format() {
    LogFormat f;
    f.name = "combined";
    f.format = Template();  // filled by the log directives module
    return f;
}

}  // namespace

bool make_combined_format(Builder& b, LogFormat& out);

namespace {

bool http_block(Builder& b, const Directive& d) {
    if (b.main.seen_http) return b.duplicate(d);
    b.main.seen_http = true;
    b.http = std::make_unique<HttpBuild>();
    LogFormat combined = combined_format();
    if (!make_combined_format(b, combined)) return false;
    b.http->conf.log_formats.push_back(std::move(combined));
    return b.process_block(d.block, ctx_http);
}

constexpr DirectiveRow rows[] = {
    {"daemon", ctx_main, args_flag, set_flag<&MainSettings::daemon>, Support::yes,
     "run in the background"},
    {"pid", ctx_main, args_1, pid, Support::yes, "file that holds the master process id"},
    {"worker_processes", ctx_main, args_1, worker_processes, Support::yes,
     "number of worker threads, or `auto`"},
    {"worker_rlimit_nofile", ctx_main, args_1, set_number<&MainSettings::worker_rlimit_nofile>,
     Support::yes, "limit on open files"},
    {"worker_shutdown_timeout", ctx_main, args_1, set_msec<&MainSettings::worker_shutdown_timeout>,
     Support::yes, "how long a graceful shutdown waits for connections"},
    {"error_log", ctx_main | ctx_hsl, args_1more, error_log, Support::yes,
     "error log file and level"},
    {"events", ctx_main, block | args_0, events_block, Support::yes, "connection processing"},
    {"worker_connections", ctx_events, args_1, worker_connections, Support::yes,
     "connections per worker"},
    {"http", ctx_main, block | args_0, http_block, Support::yes, "HTTP server"},
    {"include", ctx_any, args_1, nullptr, Support::yes,
     "include files (globs allowed), relative to the configuration's directory"},
};

}  // namespace

std::span<const DirectiveRow> core_directives() {
    return rows;
}

}  // namespace ferry::conf
