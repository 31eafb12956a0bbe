#include "conf/lexer.h"

#include <catch2/catch.hpp>

using namespace ferry::conf;

namespace {

std::vector<Token> lex(std::string_view text, Diagnostic* error = nullptr) {
    Lexer lexer(text, std::make_shared<const std::string>("t.conf"));
    std::vector<Token> out;
    for (;;) {
        Diagnostic err;
        std::optional<Token> tok = lexer.next(err);
        if (!tok) {
            if (error) *error = err;
            return out;
        }
        if (tok->kind == Token::Kind::end) return out;
        out.push_back(*tok);
    }
}

}  // namespace

TEST_CASE("lexer: words and punctuation carry line and column", "[conf][lexer]") {
    auto t = lex("listen 80;\n  server_name a.b {\n}");
    REQUIRE(t.size() == 7);
    CHECK(t[0].text == "listen");
    CHECK(t[0].loc.line == 1);
    CHECK(t[0].loc.column == 1);
    CHECK(t[1].text == "80");
    CHECK(t[1].loc.column == 8);
    CHECK(t[2].kind == Token::Kind::semicolon);
    CHECK(t[2].loc.column == 10);
    CHECK(t[3].text == "server_name");
    CHECK(t[3].loc.line == 2);
    CHECK(t[3].loc.column == 3);
    CHECK(t[5].kind == Token::Kind::open_brace);
    CHECK(t[6].kind == Token::Kind::close_brace);
    CHECK(t[6].loc.line == 3);
    CHECK(*t[0].loc.file == "t.conf");
}

TEST_CASE("lexer: quoted words keep spaces and apply nginx escapes", "[conf][lexer]") {
    auto t = lex(R"(a "x y" 'q\'s' "t\tn\nr\r" "back\\slash" "keep\d" "say \"hi\"";)");
    REQUIRE(t.size() == 8);
    CHECK(t[1].text == "x y");
    CHECK(t[1].quoted);
    CHECK_FALSE(t[0].quoted);
    CHECK(t[2].text == "q's");
    CHECK(t[3].text == "t\tn\nr\r");
    CHECK(t[4].text == "back\\slash");
    CHECK(t[5].text == "keep\\d");
    CHECK(t[6].text == "say \"hi\"");
}

TEST_CASE("lexer: a backslash in a bare word protects the next byte", "[conf][lexer]") {
    // As nginx: "\;" and "\ " do not end the word and are kept as written.
    auto t = lex(R"(a\;b c\ d \"q\";)");
    REQUIRE(t.size() == 4);
    CHECK(t[0].text == "a\\;b");
    CHECK(t[1].text == "c\\ d");
    CHECK(t[2].text == "\"q\"");
}

TEST_CASE("lexer: comments are skipped but '#' inside a word is kept", "[conf][lexer]") {
    auto t = lex("# full line\nkey a#b; # trailing\n");
    REQUIRE(t.size() == 3);
    CHECK(t[0].text == "key");
    CHECK(t[0].loc.line == 2);
    CHECK(t[1].text == "a#b");
}

TEST_CASE("lexer: ${name} keeps its brace inside a bare word", "[conf][lexer]") {
    auto t = lex("return 200 ${host}x{;");
    REQUIRE(t.size() == 5);
    CHECK(t[2].text == "${host}x");
    CHECK(t[3].kind == Token::Kind::open_brace);
}

TEST_CASE("lexer: a word ends at ';' or '{' but not at '}'", "[conf][lexer]") {
    auto t = lex("a b} c{");
    REQUIRE(t.size() == 4);
    CHECK(t[1].text == "b}");
    CHECK(t[2].text == "c");
}

TEST_CASE("lexer: an unterminated quote is reported at the quote", "[conf][lexer]") {
    Diagnostic e;
    lex("a\n  b \"never closed;\n", &e);
    CHECK(e.message == "unexpected end of file, expecting \";\" or \"}\"");
    CHECK(e.loc.line == 2);
    CHECK(e.loc.column == 5);
    CHECK(e.hint == "the quote opened here is not closed");
}

TEST_CASE("lexer: a closing quote must be followed by a separator", "[conf][lexer]") {
    Diagnostic e;
    lex("a \"b\"c;", &e);
    CHECK(e.message == "unexpected \"c\"");
    CHECK(e.loc.column == 6);
    auto ok = lex("if ($a = \"b\");");  // ')' is allowed, as in nginx
    CHECK(ok.size() == 6);
}

TEST_CASE("lexer: tokens longer than nginx's buffer are refused", "[conf][lexer]") {
    Diagnostic e;
    lex("a " + std::string(5000, 'x') + ";", &e);
    CHECK(e.message == "too long parameter \"xxxxxxxxxx...\" started");
    CHECK(e.loc.column == 3);
    Diagnostic q;
    lex("a \"" + std::string(5000, 'x') + "\";", &q);
    CHECK(q.message == "too long parameter, probably missing terminating \"\"\" character");
    CHECK(q.loc.column == 3);
}

TEST_CASE("lexer: a long line of short words is fine", "[conf][lexer]") {
    std::string line;
    for (int i = 0; i < 100000; ++i)
        line += "ab ";
    auto t = lex(line + ";");
    CHECK(t.size() == 100001);
}

TEST_CASE("lexer: quoted strings may span lines and keep counting lines", "[conf][lexer]") {
    auto t = lex("a \"1\n2\" b;\nc;");
    REQUIRE(t.size() == 6);
    CHECK(t[1].text == "1\n2");
    CHECK(t[2].loc.line == 2);
    CHECK(t[4].text == "c");
    CHECK(t[4].loc.line == 3);
    CHECK(t[4].loc.column == 1);
}

TEST_CASE("lexer: CRLF line ends and tabs are whitespace", "[conf][lexer]") {
    auto t = lex("a\tb;\r\nc;\r\n");
    REQUIRE(t.size() == 5);
    CHECK(t[1].loc.column == 3);
    CHECK(t[3].loc.line == 2);
}

TEST_CASE("printable escapes control and high bytes", "[conf][lexer]") {
    CHECK(printable(std::string("a\x01\xff", 3)) == "a\\x01\\xFF");
    CHECK(printable("plain") == "plain");
}
