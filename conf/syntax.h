// The syntax tree of a configuration: directives as written, before any meaning is
// given to them. Includes are already expanded in place.
#pragma once

#include <string>
#include <vector>

#include "conf/source_loc.h"

namespace ferry::conf {

struct Arg {
    std::string text;  // unescaped
    SourceLoc loc;
    bool quoted = false;
};

struct Directive {
    std::string name;  // the first word
    SourceLoc loc;     // of the first word
    std::vector<Arg> args;
    bool has_block = false;        // ended by '{' rather than ';'
    SourceLoc terminator;          // position of the ';' or '{'
    std::vector<Directive> block;  // the block's directives, when has_block
    SourceLoc block_end;           // position of the closing '}'
};

}  // namespace ferry::conf
