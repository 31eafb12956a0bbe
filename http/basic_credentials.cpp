#include "http/basic_credentials.h"

#include <openssl/evp.h>

#include <vector>

#include "http/header_rules.h"

namespace ferry::http {

bool parse_basic_credentials(std::string_view authorization, std::string& user,
                             std::string& password) {
    std::string_view v = authorization;
    if (v.size() < 6 || !equals_ignore_case(v.substr(0, 6), "basic ")) return false;
    v.remove_prefix(6);
    while (!v.empty() && v.front() == ' ')
        v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ')
        v.remove_suffix(1);
    if (v.empty() || v.size() % 4 != 0) return false;
    std::vector<unsigned char> out(v.size() / 4 * 3 + 1);
    int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(v.data()),
                            static_cast<int>(v.size()));
    if (n < 0) return false;
    // EVP_DecodeBlock counts the padding as zero bytes.
    if (v.back() == '=') --n;
    if (v.size() >= 2 && v[v.size() - 2] == '=') --n;
    std::string_view decoded(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n));
    size_t colon = decoded.find(':');
    if (colon == std::string_view::npos) return false;
    user.assign(decoded.substr(0, colon));
    password.assign(decoded.substr(colon + 1));
    return true;
}

}  // namespace ferry::http
