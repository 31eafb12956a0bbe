#include "conf/lexer.h"

#include <fmt/format.h>

namespace ferry::conf {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::string unescape_token(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '\\' && i + 1 < raw.size()) {
            char n = raw[i + 1];
            switch (n) {
                case '"':
                case '\'':
                case '\\':
                    out += n;
                    ++i;
                    continue;
                case 't':
                    out += '\t';
                    ++i;
                    continue;
                case 'r':
                    out += '\r';
                    ++i;
                    continue;
                case 'n':
                    out += '\n';
                    ++i;
                    continue;
                default:
                    break;
            }
        }
        out += c;
    }
    return out;
}

std::string printable(std::string_view text, bool keep_tabs) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if ((c < 0x20 && !(keep_tabs && c == '\t')) || c >= 0x7f) {
            out += fmt::format("\\x{:02X}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

Lexer::Lexer(std::string_view text, std::shared_ptr<const std::string> file)
    : text_(text), file_(std::move(file)) {}

SourceLoc Lexer::loc_at(size_t pos) const {
    // Positions are only asked for bytes on the current line (tokens never span lines
    // before their first byte), so the column is an offset from line_start_.
    SourceLoc loc;
    loc.file = file_;
    loc.line = line_;
    loc.column = static_cast<uint32_t>(pos - line_start_ + 1);
    return loc;
}

bool Lexer::fail(Diagnostic& error, size_t pos, std::string message, std::string hint) {
    error.level = LogLevel::emerg;
    error.message = std::move(message);
    error.loc = loc_at(pos);
    error.hint = std::move(hint);
    return false;
}

void Lexer::skip_space_and_comments() {
    while (pos_ < text_.size()) {
        char c = text_[pos_];
        if (c == '\n') {
            ++pos_;
            ++line_;
            line_start_ = pos_;
        } else if (is_space(c)) {
            ++pos_;
        } else if (c == '#') {
            while (pos_ < text_.size() && text_[pos_] != '\n')
                ++pos_;
        } else {
            return;
        }
    }
}

std::optional<Token> Lexer::next(Diagnostic& error) {
    skip_space_and_comments();
    Token tok;
    tok.loc = loc_at(pos_);
    if (pos_ >= text_.size()) {
        tok.kind = Token::Kind::end;
        return tok;
    }
    char c = text_[pos_];
    if (c == ';' || c == '{' || c == '}') {
        ++pos_;
        tok.kind = c == ';'   ? Token::Kind::semicolon
                   : c == '{' ? Token::Kind::open_brace
                              : Token::Kind::close_brace;
        return tok;
    }
    if (c == '"' || c == '\'') return read_quoted(error);
    return read_bare(error);
}

std::optional<Token> Lexer::read_quoted(Diagnostic& error) {
    const size_t open = pos_;
    const SourceLoc open_loc = loc_at(open);
    const uint32_t open_line = line_;
    const size_t open_line_start = line_start_;
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
        if (pos_ - start > max_token_length) {
            // Report at the opening quote, as nginx rewinds to the token's line.
            line_ = open_line;
            line_start_ = open_line_start;
            fail(error, open,
                 fmt::format("too long parameter, probably missing terminating \"{}\" character",
                             quote),
                 "the quote opened here is not closed");
            return std::nullopt;
        }
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        if (text_[pos_] == '\n') {
            ++line_;
            line_start_ = pos_ + 1;
        }
        ++pos_;
    }
    if (pos_ >= text_.size()) {
        error.level = LogLevel::emerg;
        error.message = "unexpected end of file, expecting \";\" or \"}\"";
        error.loc = open_loc;
        error.hint = "the quote opened here is not closed";
        return std::nullopt;
    }
    Token tok;
    tok.kind = Token::Kind::word;
    tok.quoted = true;
    tok.loc = open_loc;
    tok.text = unescape_token(text_.substr(start, pos_ - start));
    ++pos_;  // the closing quote
    if (pos_ < text_.size()) {
        char after = text_[pos_];
        if (!is_space(after) && after != ';' && after != '{' && after != ')') {
            fail(error, pos_, fmt::format("unexpected \"{}\"", printable({&after, 1})),
                 "a quoted parameter must be followed by a space, \";\" or \"{\"");
            return std::nullopt;
        }
    }
    return tok;
}

std::optional<Token> Lexer::read_bare(Diagnostic& error) {
    const size_t start = pos_;
    const SourceLoc start_loc = loc_at(start);
    bool after_dollar = false;
    while (pos_ < text_.size()) {
        char c = text_[pos_];
        if (c == '{' && after_dollar) {  // "${name}" stays inside the word
            after_dollar = false;
            ++pos_;
            continue;
        }
        if (is_space(c) || c == ';' || c == '{') break;
        after_dollar = c == '$';
        if (c == '\\' && pos_ + 1 < text_.size()) {
            ++pos_;  // the escaped byte belongs to the word, even a newline
            if (text_[pos_] == '\n') {
                ++line_;
                line_start_ = pos_ + 1;
            }
        }
        ++pos_;
        if (pos_ - start > max_token_length) {
            error.level = LogLevel::emerg;
            error.message = fmt::format("too long parameter \"{}...\" started",
                                        printable(text_.substr(start, 10)));
            error.loc = start_loc;
            error.hint.clear();
            return std::nullopt;
        }
    }
    Token tok;
    tok.kind = Token::Kind::word;
    tok.loc = start_loc;
    tok.text = unescape_token(text_.substr(start, pos_ - start));
    return tok;
}

}  // namespace ferry::conf
