#include "tests/bench/ws_frame.h"

#include <openssl/evp.h>
#include <strings.h>

#include <cstring>

namespace ferry::bench {

size_t encode_header(uint8_t* out, uint8_t opcode, uint64_t length, bool fin, const uint8_t* mask) {
    size_t n = 0;
    out[n++] = uint8_t((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t mask_bit = mask ? 0x80 : 0;
    if (length < 126) {
        out[n++] = uint8_t(mask_bit | length);
    } else if (length <= 0xffff) {
        out[n++] = uint8_t(mask_bit | 126);
        out[n++] = uint8_t(length >> 8);
        out[n++] = uint8_t(length);
    } else {
        out[n++] = uint8_t(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = uint8_t(length >> shift);
    }
    if (mask) {
        std::memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

int parse_header(const uint8_t* p, size_t n, FrameHeader& h) {
    if (n < 2) return 0;
    if (p[0] & 0x70) return -1;  // no extension was negotiated
    h.fin = (p[0] & 0x80) != 0;
    h.opcode = p[0] & 0x0f;
    h.masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7f;
    size_t size = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t(p[2]) << 8) | p[3];
        size = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 2; i < 10; ++i)
            len = (len << 8) | p[i];
        size = 10;
    }
    if ((h.opcode & 0x08) && (len > 125 || !h.fin)) return -1;
    if (h.masked) {
        if (n < size + 4) return 0;
        std::memcpy(h.mask, p + size, 4);
        size += 4;
    }
    h.length = len;
    h.header_size = size;
    return 1;
}

void apply_mask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset) {
    // Rotate the key so that key[0] applies to data[0], then XOR eight bytes at a time.
    uint8_t key[8];
    for (int i = 0; i < 8; ++i)
        key[i] = mask[(offset + i) & 3];
    uint64_t key64;
    std::memcpy(&key64, key, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        std::memcpy(&v, data + i, 8);
        v ^= key64;
        std::memcpy(data + i, &v, 8);
    }
    for (; i < n; ++i)
        data[i] ^= key[i & 7];
}

std::string accept_key(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input(key);
    input += guid;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
    unsigned char b64[64];
    int len = EVP_EncodeBlock(b64, digest, int(digest_len));
    return std::string(reinterpret_cast<char*>(b64), size_t(len));
}

std::string_view find_header(std::string_view headers, std::string_view name) {
    size_t pos = headers.find("\r\n");  // skip the request or status line
    while (pos != std::string_view::npos && pos + 2 < headers.size()) {
        size_t start = pos + 2;
        size_t end = headers.find("\r\n", start);
        if (end == std::string_view::npos) end = headers.size();
        std::string_view line = headers.substr(start, end - start);
        if (line.size() > name.size() && line[name.size()] == ':' &&
            strncasecmp(line.data(), name.data(), name.size()) == 0) {
            std::string_view value = line.substr(name.size() + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            return value;
        }
        pos = end;
    }
    return {};
}

}  // namespace ferry::bench
