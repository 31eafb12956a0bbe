#include "http/chunked.h"

#include <algorithm>

namespace ferry::http {

namespace {

int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    unsigned char l = c | 0x20;
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}

constexpr uint64_t kMaxChunkSize = INT64_MAX;  // nginx's bound: the largest off_t

}  // namespace

bool ChunkedDecoder::step(unsigned char c) {
    switch (state_) {
        case State::size_first: {
            int d = hex_digit(c);
            if (d < 0) return false;
            size_ = static_cast<uint64_t>(d);
            line_length_ = 1;
            state_ = State::size;
            return true;
        }
        case State::size: {
            if (++line_length_ > limits_.max_size_line) return false;
            if (int d = hex_digit(c); d >= 0) {
                if (size_ > (kMaxChunkSize - static_cast<uint64_t>(d)) / 16) return false;
                size_ = size_ * 16 + static_cast<uint64_t>(d);
                return true;
            }
            if (c == '\r') {
                state_ = State::size_lf;
                return true;
            }
            if (c == ';' || c == ' ' || c == '\t') {
                state_ = State::extension;
                return true;
            }
            return false;
        }
        case State::extension:
            if (c == '\n' || ++line_length_ > limits_.max_size_line) return false;
            if (c == '\r') state_ = State::size_lf;
            return true;
        case State::size_lf:
            if (c != '\n') return false;
            state_ = size_ == 0 ? State::trailer_start : State::data;
            return true;
        case State::data_cr:
            if (c != '\r') return false;
            state_ = State::data_lf;
            return true;
        case State::data_lf:
            if (c != '\n') return false;
            state_ = State::size_first;
            return true;
        case State::trailer_start:
        case State::trailer_line:
            if (c == '\n' || ++trailer_length_ > limits_.max_trailers) return false;
            if (c == '\r')
                state_ = state_ == State::trailer_start ? State::final_lf : State::trailer_lf;
            else
                state_ = State::trailer_line;
            return true;
        case State::trailer_lf:
            if (c != '\n' || ++trailer_length_ > limits_.max_trailers) return false;
            state_ = State::trailer_start;
            return true;
        case State::final_lf:
            if (c != '\n' || ++trailer_length_ > limits_.max_trailers) return false;
            state_ = State::done;
            return true;
        case State::data:
        case State::done:
        case State::error:
            break;
    }
    return false;
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::string_view in) {
    size_t i = 0;
    while (true) {
        if (state_ == State::done) return {Status::done, i, {}};
        if (state_ == State::error) return {Status::error, i, {}};
        if (i == in.size()) return {Status::need_more, i, {}};
        if (state_ == State::data) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(size_, in.size() - i));
            size_ -= n;
            if (size_ == 0) state_ = State::data_cr;
            return {Status::data, i + n, in.substr(i, n)};
        }
        if (!step(static_cast<unsigned char>(in[i]))) {
            state_ = State::error;
            return {Status::error, i, {}};
        }
        ++i;
    }
}

size_t write_chunk_header(uint64_t size, char* out) {
    static constexpr char hex[] = "0123456789abcdef";
    char digits[16];
    size_t n = 0;
    do {
        digits[n++] = hex[size & 0xf];
        size >>= 4;
    } while (size != 0);
    for (size_t i = 0; i < n; ++i)
        out[i] = digits[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}

}  // namespace ferry::http
