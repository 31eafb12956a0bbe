// Static files (nginx's static and index modules): a location that names root, alias,
// index or try_files and neither proxies nor returns answers with the file its URI maps
// to, a directory's index file, or 301/403/404/405 as nginx does.
#pragma once

#include <string>
#include <string_view>

#include "conf/template.h"
#include "http/content.h"

namespace ferry::http {

const ContentHandler& static_content();

// The file name for the request's current $uri (empty when it cannot map: a URI that
// would leave the root). `root_len` gets the length of $document_root within it.
std::string request_filename(ClientConnection& c, size_t& root_len);

// $document_root, $realpath_root or $request_filename for the request as it is now.
void append_file_variable(ClientConnection& c, conf::BuiltinVar v, std::string& out);

}  // namespace ferry::http
