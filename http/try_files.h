// try_files (nginx's ngx_http_try_files_module), in the precontent phase: the first
// listed file (or directory, for a name ending in '/') that exists becomes $uri and the
// location's content serves it; when none does, the last argument decides: a URI
// (internal redirect), "=CODE" or "@named".
#pragma once

namespace ferry::http {

class ClientConnection;

int run_try_files(ClientConnection& c);

}  // namespace ferry::http
