#include "http/header_spans.h"

namespace ferry::http {

void HeaderSpans::field(uint32_t off, uint32_t len) {
    if (!in_value_ && !spans_->empty()) {
        HeaderSpan& last = spans_->back();
        // No value yet and contiguous: the same name, split across two reads.
        if (last.value_off == 0 && off == last.name_off + last.name_len) {
            last.name_len += len;
            return;
        }
    }
    in_value_ = false;
    HeaderSpan s;
    s.name_off = off;
    s.name_len = len;
    spans_->push_back(s);
}

void HeaderSpans::value(uint32_t off, uint32_t len) {
    HeaderSpan& s = spans_->back();
    if (!in_value_) {
        in_value_ = true;
        s.value_off = off;
        s.value_len = 0;
    }
    s.value_len += len;
}

const HeaderSpan& HeaderSpans::value_complete() {
    HeaderSpan& s = spans_->back();
    in_value_ = false;
    // An empty value still closes the field: the next name starts a new one.
    if (s.value_len == 0) s.value_off = s.name_off + s.name_len;
    return s;
}

}  // namespace ferry::http
