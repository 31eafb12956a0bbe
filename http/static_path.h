// Where a request's URI lives on disk (nginx's ngx_http_map_uri_to_path): root + $uri,
// or an alias replacing the location's prefix (in a regex location the alias, with its
// captures, is the whole path). Pure functions, so that the path rules are tested alone.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::http {

struct PathMapping {
    std::string_view root;  // the evaluated root or alias, made absolute
    bool alias = false;
    size_t alias_strip = 0;    // a prefix alias: the bytes of $uri the location names
    bool alias_regex = false;  // a regex alias: `root` is the complete path
};

// Writes the file name for `uri` to `out` and the length of its root part
// ($document_root) to `root_len`. False when `uri` is not a safe absolute path (a NUL
// byte, a "." or ".." segment, a backslash-free check being nginx's own normalisation
// that already ran) or the alias's prefix is not the URI's.
bool map_uri_to_path(const PathMapping& m, std::string_view uri, std::string& out,
                     size_t& root_len);

// Whether `uri` could climb out of the directory it is appended to: NUL bytes, or "."
// or ".." as a whole segment.
bool uri_escapes(std::string_view uri);

// The extension of the last segment of `path` ("gz" for "/a/b.tar.gz"), "" if none.
std::string_view path_extension(std::string_view path);

}  // namespace ferry::http
