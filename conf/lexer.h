// The nginx configuration language's tokens: words (bare or quoted, with nginx's
// escapes), ';', '{', '}', and the end of the input. '#' starts a comment. Each token
// carries the position of its first byte.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conf/diagnostic.h"
#include "conf/source_loc.h"

namespace ferry::conf {

struct Token {
    enum class Kind : uint8_t { word, semicolon, open_brace, close_brace, end };
    Kind kind = Kind::end;
    std::string text;     // unescaped word; empty for punctuation
    bool quoted = false;  // written between '"' or '\''
    SourceLoc loc;
};

// nginx reads a file through a 4096-byte buffer, so no token may be longer.
inline constexpr size_t max_token_length = 4095;

class Lexer {
  public:
    // `text` must outlive the lexer. `file` names the source in positions (null for -g).
    Lexer(std::string_view text, std::shared_ptr<const std::string> file);

    // Reads the next token. On a lexical error returns nullopt and fills `error`.
    std::optional<Token> next(Diagnostic& error);

    // The position just past the last byte read (for "unexpected end of file").
    SourceLoc here() const { return loc_at(pos_); }

  private:
    SourceLoc loc_at(size_t pos) const;
    void skip_space_and_comments();
    std::optional<Token> read_quoted(Diagnostic& error);
    std::optional<Token> read_bare(Diagnostic& error);
    bool fail(Diagnostic& error, size_t pos, std::string message, std::string hint = {});

    std::string_view text_;
    std::shared_ptr<const std::string> file_;
    size_t pos_ = 0;
    uint32_t line_ = 1;
    size_t line_start_ = 0;  // offset of the first byte of the current line
};

// Applies nginx's escapes to a raw token: \" \' \\ give the character, \t \r \n the
// control character; any other backslash is kept as written.
std::string unescape_token(std::string_view raw);

// Makes bytes printable for a message: control and non-ASCII bytes become \xNN (tabs
// too, unless `keep_tabs`).
std::string printable(std::string_view text, bool keep_tabs = false);

}  // namespace ferry::conf
