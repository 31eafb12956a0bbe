// Header fields as llhttp reports them: a name or value may arrive in pieces (split
// across reads), always contiguous in the buffer. Positions are offsets, so the buffer
// may grow and move while a head arrives. Shared by the request and response readers.
#pragma once

#include <cstdint>
#include <vector>

#include "http/request.h"

namespace ferry::http {

class HeaderSpans {
  public:
    explicit HeaderSpans(std::vector<HeaderSpan>& spans) : spans_(&spans) {}

    void clear() {
        spans_->clear();
        in_value_ = false;
    }
    // A piece of a name at `off`: a new field, or the rest of one split across reads.
    void field(uint32_t off, uint32_t len);
    // A piece of the current field's value.
    void value(uint32_t off, uint32_t len);
    // The current field ended. Returns it.
    const HeaderSpan& value_complete();

  private:
    std::vector<HeaderSpan>* spans_;
    bool in_value_ = false;
};

}  // namespace ferry::http
