#include "app/cli.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "app/modules.h"
#include "conf/directive_table.h"
#include "conf/lexer.h"
#include "conf/parser.h"
#include "conf/units.h"

namespace ferry::app {

void print_stderr_line(const std::string& message) {
    std::string line = "ferry: " + message + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

std::optional<Options> parse_options(int argc, const char* const* argv, std::string& error) {
    Options o;
    // Takes the value of a flag: the rest of this argument, or the next one.
    auto value = [&](int& i, const char* p, std::string& out, const char* missing) {
        if (*p) {
            out = p;
            return true;
        }
        if (i + 1 < argc && argv[i + 1]) {
            out = argv[++i];
            return true;
        }
        error = missing;
        return false;
    };
    for (int i = 1; i < argc; ++i) {
        const char* p = argv[i];
        if (std::strcmp(p, "--directives-markdown") == 0) {
            o.directives_markdown = true;
            continue;
        }
        if (*p++ != '-') {
            error = fmt::format("invalid option: \"{}\"", argv[i]);
            return std::nullopt;
        }
        bool next_arg = false;
        while (*p && !next_arg) {
            char c = *p++;
            switch (c) {
                case '?':
                case 'h':
                    o.show_version = o.show_help = true;
                    break;
                case 'v':
                    o.show_version = true;
                    break;
                case 'V':
                    o.show_version = o.show_configure = true;
                    break;
                case 't':
                    o.test_config = true;
                    break;
                case 'T':
                    o.test_config = o.dump_config = true;
                    break;
                case 'q':
                    o.quiet = true;
                    break;
                case 'p':
                    if (!value(i, p, o.prefix, "option \"-p\" requires directory name")) return {};
                    next_arg = true;
                    break;
                case 'c':
                    if (!value(i, p, o.conf_file, "option \"-c\" requires file name")) return {};
                    next_arg = true;
                    break;
                case 'g':
                    if (!value(i, p, o.directives, "option \"-g\" requires parameter")) return {};
                    next_arg = true;
                    break;
                case 'e': {
                    std::string log;
                    if (!value(i, p, log, "option \"-e\" requires file name")) return {};
                    o.error_log = log == "stderr" ? "" : log;
                    next_arg = true;
                    break;
                }
                case 's':
                    if (!value(i, p, o.signal, "option \"-s\" requires parameter")) return {};
                    if (o.signal != "stop" && o.signal != "quit" && o.signal != "reopen" &&
                        o.signal != "reload") {
                        error = fmt::format("invalid option: \"-s {}\"", o.signal);
                        return std::nullopt;
                    }
                    next_arg = true;
                    break;
                default:
                    error = fmt::format("invalid option: \"{}\"", c);
                    return std::nullopt;
            }
        }
    }
    return o;
}

conf::LoadOptions load_options(const Options& options) {
    conf::LoadOptions lo;
    lo.prefix = options.prefix;
    lo.conf_file = options.conf_file;
    lo.directives = options.directives;
    return lo;
}

namespace {

std::string_view source_line(const conf::SourceLoc& loc, const std::vector<conf::SourceFile>& files,
                             const std::string& command_line) {
    std::string_view text;
    if (loc.is_command_line()) {
        text = command_line;
    } else {
        for (const conf::SourceFile& f : files) {
            if (loc.file && f.path == *loc.file) text = f.contents;
        }
    }
    if (text.empty()) return {};
    size_t start = 0;
    for (uint32_t line = 1; line < loc.line; ++line) {
        start = text.find('\n', start);
        if (start == std::string_view::npos) return {};
        ++start;
    }
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? end : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// The caret line: as wide as the echoed (escaped) text before the column, tabs copied,
// so the caret lands under the column.
std::string caret_under(std::string_view line, uint32_t column) {
    size_t before = std::min<size_t>(column > 0 ? column - 1 : 0, line.size());
    std::string out = conf::printable(line.substr(0, before), true);
    for (char& c : out) {
        if (c != '\t') c = ' ';
    }
    out += '^';
    return out;
}

}  // namespace

std::string format_diagnostic(const conf::Diagnostic& d, const std::vector<conf::SourceFile>& files,
                              const std::string& command_line) {
    std::string out = fmt::format("ferry: [{}] {}", conf::log_level_name(d.level), d.message);
    if (d.loc.is_command_line()) {
        out += " in command line";
    } else if (d.loc.has_position()) {
        out += " in " + d.loc.to_string();
    }
    out += '\n';
    std::string_view line =
        d.loc.has_position() ? source_line(d.loc, files, command_line) : std::string_view{};
    // Very long lines (a 1 MiB line) are not worth echoing whole.
    if (!line.empty() && line.size() <= 512) {
        std::string number = d.loc.is_command_line() ? "-g" : std::to_string(d.loc.line);
        std::string pad(number.size(), ' ');
        out += fmt::format("  {} | {}\n", number, conf::printable(line, true));
        out += fmt::format("  {} | {}\n", pad, caret_under(line, d.loc.column));
    }
    if (!d.hint.empty()) out += fmt::format("  hint: {}\n", d.hint);
    return out;
}

void print_diagnostics(const conf::Diagnostics& diags, const std::vector<conf::SourceFile>& files,
                       const std::string& command_line, bool quiet) {
    for (const conf::Diagnostic& d : diags) {
        if (quiet && d.level <= conf::LogLevel::warn) continue;
        std::string text = format_diagnostic(d, files, command_line);
        (void)!::write(STDERR_FILENO, text.data(), text.size());
    }
}

int run_config_test(const Options& options, const RuntimeCheck& runtime_check) {
    conf::LoadResult r = conf::load(load_options(options));
    bool ok = r.config != nullptr;
    if (ok && runtime_check) ok = runtime_check(*r.config, r.diagnostics);
    print_diagnostics(r.diagnostics, r.files, options.directives, options.quiet);
    if (!ok) {
        print_stderr_line(fmt::format("configuration file {} test failed", r.conf_file));
        return 1;
    }
    if (!options.quiet) {
        print_stderr_line(fmt::format("the configuration file {} syntax is ok", r.conf_file));
        print_stderr_line(fmt::format("configuration file {} test is successful", r.conf_file));
    }
    if (options.dump_config) {
        std::string text = conf::dump(*r.config);
        (void)!::write(STDOUT_FILENO, text.data(), text.size());
    }
    return 0;
}

namespace {

int signal_number(const std::string& name) {
    if (name == "reload") return SIGHUP;
    if (name == "reopen") return SIGUSR1;
    if (name == "quit") return SIGQUIT;
    return SIGTERM;  // stop
}

std::string errno_text(int err) {
    return fmt::format("({}: {})", err, std::strerror(err));
}

}  // namespace

int send_signal(const Options& options) {
    conf::LoadResult r = conf::load(load_options(options));
    print_diagnostics(r.diagnostics, r.files, options.directives, true);
    if (!r.config) return 1;
    const std::string& path = r.config->pid;
    std::string contents, why;
    if (!conf::read_file(path, contents, why)) {
        print_stderr_line("[error] " + why);
        return 1;
    }
    while (!contents.empty() && (contents.back() == '\n' || contents.back() == '\r')) {
        contents.pop_back();
    }
    std::optional<int64_t> pid = conf::parse_number(contents);
    if (!pid || *pid <= 0 || *pid > INT32_MAX) {
        print_stderr_line(fmt::format("[error] invalid PID number \"{}\" in \"{}\"",
                                      conf::printable(contents), path));
        return 1;
    }
    int sig = signal_number(options.signal);
    if (::kill(static_cast<pid_t>(*pid), sig) != 0) {
        print_stderr_line(
            fmt::format("[alert] kill({}, {}) failed {}", *pid, sig, errno_text(errno)));
        return 1;
    }
    return 0;
}

namespace {

// nginx -V's lines after the version, in its shape: the compiler, the OpenSSL built
// against (and the one running, when they differ), SNI, and the configure flags that
// tell nginx's test suite which modules exist (app/modules.h).
std::string configure_lines() {
#if defined(__clang__)
    std::string out = "built by clang " __clang_version__ "\n";
#else
    std::string out = "built by gcc " __VERSION__ "\n";
#endif
    std::string_view running = OpenSSL_version(OPENSSL_VERSION);
    if (running == OPENSSL_VERSION_TEXT) {
        out += "built with " OPENSSL_VERSION_TEXT "\n";
    } else {
        out += fmt::format("built with {} (running with {})\n", OPENSSL_VERSION_TEXT, running);
    }
    out += "TLS SNI support enabled\n";
    out += "configure arguments:" + configure_arguments() + "\n";
    return out;
}

void print_version(const Options& options) {
    std::string out = fmt::format("ferry version: ferry/{}\n", FERRY_VERSION);
    out += fmt::format("nginx version: nginx/{} (ferry follows this nginx's behaviour)\n",
                       FERRY_NGINX_COMPAT);
    if (options.show_help) {
        out +=
            "Usage: ferry [-?hvVtTq] [-s signal] [-p prefix]\n"
            "             [-e filename] [-c filename] [-g directives]\n\n"
            "Options:\n"
            "  -?,-h         : print this help\n"
            "  -v            : print the version and exit\n"
            "  -V            : print the version and build options and exit\n"
            "  -t            : check the configuration and exit\n"
            "  -T            : check the configuration, print it and exit\n"
            "  -q            : print only errors while checking the configuration\n"
            "  -s signal     : signal the running master process: stop, quit, reopen, reload\n"
            "  -e filename   : error log file (default: stderr)\n";
        out += fmt::format("  -p prefix     : prefix for relative paths (default: {})\n",
                           *conf::default_prefix ? conf::default_prefix : "the current directory");
        out += fmt::format("  -c filename   : configuration file (default: {})\n",
                           conf::default_conf_path);
        out += "  -g directives : main-context directives in addition to the file\n\n";
    }
    if (options.show_configure) out += configure_lines();
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace

std::optional<int> run_exit_modes(const Options& options, const RuntimeCheck& runtime_check) {
    if (options.directives_markdown) {
        std::string table = conf::directives_markdown();
        (void)!::write(STDOUT_FILENO, table.data(), table.size());
        return 0;
    }
    if (options.show_version) {
        print_version(options);
        if (!options.test_config) return 0;
    }
    if (options.test_config) return run_config_test(options, runtime_check);
    if (!options.signal.empty()) return send_signal(options);
    return std::nullopt;
}

}  // namespace ferry::app
