#include "conf/parser.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "conf/lexer.h"
#include "conf/model.h"

namespace ferry::conf {
namespace {

std::string errno_text(int err) {
    return fmt::format("({}: {})", err, std::strerror(err));
}

bool has_glob_chars(const std::string& path) {
    return path.find_first_of("*?[") != std::string::npos;
}

std::string canonical(const std::string& path) {
    char buf[PATH_MAX];
    if (realpath(path.c_str(), buf) == nullptr) return path;
    return buf;
}

}  // namespace

// Reads as many bytes as fstat() reports, as nginx does, so that a device or FIFO named
// by mistake (/dev/zero, /dev/stdin) reads as empty instead of blocking forever.
bool read_file(const std::string& path, std::string& contents, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = fmt::format("open() \"{}\" failed {}", path, errno_text(errno));
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
        error = fmt::format("pread() \"{}\" failed {}", path, errno_text(err));
        ::close(fd);
        return false;
    }
    size_t size = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0;
    contents.assign(size, '\0');
    size_t got = 0;
    while (got < size) {
        ssize_t n = ::pread(fd, contents.data() + got, size - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = fmt::format("pread() \"{}\" failed {}", path, errno_text(errno));
            ::close(fd);
            return false;
        }
        if (n == 0) break;  // the file shrank while we read it
        got += static_cast<size_t>(n);
    }
    contents.resize(got);
    ::close(fd);
    return true;
}

// One pass over one text: tokens to directives, with includes expanded through the
// owning Parser.
class Parser::Run {
  public:
    Run(Parser& parser, Lexer& lexer, bool command_line)
        : parser_(parser), lexer_(lexer), command_line_(command_line) {}

    // Parses directives until the end of the text (depth 0) or a closing '}'.
    bool block(std::vector<Directive>& out, int depth, const SourceLoc& open) {
        for (;;) {
            std::optional<Token> tok = next();
            if (!tok) return false;
            switch (tok->kind) {
                case Token::Kind::end:
                    if (depth == 0) return true;
                    return parser_.error(open, "unexpected end of file, expecting \"}\"",
                                         "the block opened here is not closed");
                case Token::Kind::close_brace:
                    if (depth > 0) {
                        close_ = tok->loc;
                        return true;
                    }
                    return parser_.error(tok->loc, "unexpected \"}\"",
                                         "there is no open block to close here");
                case Token::Kind::semicolon:
                    return parser_.error(tok->loc, "unexpected \";\"");
                case Token::Kind::open_brace:
                    return parser_.error(tok->loc, "unexpected \"{\"");
                case Token::Kind::word:
                    if (!directive(std::move(*tok), out, depth)) return false;
                    break;
            }
        }
    }

  private:
    std::optional<Token> next() {
        Diagnostic err;
        std::optional<Token> tok = lexer_.next(err);
        if (!tok) parser_.diags_.push_back(std::move(err));
        return tok;
    }

    bool directive(Token name, std::vector<Directive>& out, int depth) {
        Directive d;
        d.name = std::move(name.text);
        d.loc = name.loc;
        for (;;) {
            std::optional<Token> tok = next();
            if (!tok) return false;
            if (tok->kind == Token::Kind::word) {
                d.args.push_back(Arg{std::move(tok->text), tok->loc, tok->quoted});
                continue;
            }
            if (tok->kind == Token::Kind::semicolon) {
                d.terminator = tok->loc;
                break;
            }
            if (tok->kind == Token::Kind::open_brace) {
                if (command_line_) {
                    return parser_.error(tok->loc,
                                         "block directives are not supported in -g option");
                }
                if (depth + 1 > max_block_depth) {
                    return parser_.error(
                        tok->loc,
                        fmt::format("too many nested blocks (more than {})", max_block_depth));
                }
                d.has_block = true;
                d.terminator = tok->loc;
                if (!block(d.block, depth + 1, tok->loc)) return false;
                d.block_end = close_;
                break;
            }
            if (tok->kind == Token::Kind::close_brace) {
                return parser_.error(
                    tok->loc, "unexpected \"}\"",
                    fmt::format("is a \";\" missing after \"{}\"?", printable(d.name)));
            }
            // end of text inside a directive
            if (command_line_) {
                return parser_.error(d.loc, "unexpected end of parameter, expecting \";\"");
            }
            return parser_.error(d.loc, "unexpected end of file, expecting \";\" or \"}\"",
                                 "this directive is not terminated by \";\"");
        }
        if (d.name == "include" && !d.has_block && d.args.size() == 1) {
            if (!parser_.allow_includes_) {
                return parser_.error(d.loc, "\"include\" is disabled here");
            }
            return parser_.include(d, out);
        }
        out.push_back(std::move(d));
        return true;
    }

    Parser& parser_;
    Lexer& lexer_;
    bool command_line_;
    SourceLoc close_;
};

Parser::Parser(std::string conf_prefix, std::vector<SourceFile>& files, Diagnostics& diags)
    : conf_prefix_(std::move(conf_prefix)), files_(files), diags_(diags) {}

bool Parser::error(const SourceLoc& loc, std::string message, std::string hint) {
    diags_.push_back(Diagnostic{LogLevel::emerg, std::move(message), loc, std::move(hint)});
    return false;
}

bool Parser::parse_file(const std::string& path, const SourceLoc& from,
                        std::vector<Directive>& out) {
    std::string canon = canonical(path);
    if (std::find(include_stack_.begin(), include_stack_.end(), canon) != include_stack_.end()) {
        return error(from, fmt::format("include loop: \"{}\" includes itself", path),
                     "remove the include that leads back to this file");
    }
    if (include_stack_.size() > static_cast<size_t>(max_include_depth)) {
        return error(from, fmt::format("includes nested too deeply (more than {}) at \"{}\"",
                                       max_include_depth, path));
    }
    std::string contents, why;
    if (!read_file(path, contents, why)) return error(from, why);

    bool seen = std::any_of(files_.begin(), files_.end(), [&](const SourceFile& f) {
        return f.path == path && f.contents == contents;
    });
    if (!seen) files_.push_back(SourceFile{path, contents});

    include_stack_.push_back(canon);
    Lexer lexer(contents, std::make_shared<const std::string>(path));
    Run run(*this, lexer, false);
    bool ok = run.block(out, 0, SourceLoc{});
    include_stack_.pop_back();
    return ok;
}

bool Parser::parse_text(std::string_view text, const std::string& path,
                        std::vector<Directive>& out) {
    include_stack_.push_back(canonical(path));
    Lexer lexer(text, std::make_shared<const std::string>(path));
    Run run(*this, lexer, false);
    bool ok = run.block(out, 0, SourceLoc{});
    include_stack_.pop_back();
    return ok;
}

bool Parser::parse_command_line(std::string_view text, std::vector<Directive>& out) {
    Lexer lexer(text, nullptr);
    Run run(*this, lexer, true);
    return run.block(out, 0, SourceLoc{});
}

bool Parser::include(const Directive& d, std::vector<Directive>& out) {
    std::string path = d.args[0].text;
    if (path.empty() || path[0] != '/') path = conf_prefix_ + path;
    if (!has_glob_chars(path)) return parse_file(path, d.loc, out);

    glob_t g{};
    int rc = ::glob(path.c_str(), 0, nullptr, &g);
    if (rc != 0 && rc != GLOB_NOMATCH) {
        globfree(&g);
        return error(d.args[0].loc, fmt::format("glob() \"{}\" failed", path));
    }
    std::vector<std::string> matches;
    for (size_t i = 0; i < g.gl_pathc; ++i)
        matches.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    for (const std::string& m : matches) {
        if (!parse_file(m, d.loc, out)) return false;
    }
    return true;
}

}  // namespace ferry::conf
