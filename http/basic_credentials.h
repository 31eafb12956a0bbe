// The user and password of an `Authorization: Basic` header, as nginx reads them for
// $remote_user and auth_basic.
#pragma once

#include <string>
#include <string_view>

namespace ferry::http {

// Decodes `authorization` (the header's value). False when it is not Basic, not valid
// base64, or has no ':' (nginx then has no user).
bool parse_basic_credentials(std::string_view authorization, std::string& user,
                             std::string& password);

}  // namespace ferry::http
