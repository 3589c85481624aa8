// The codes the addon's errors carry: the native subset of the error catalogue, main/errors/catalogue.ts,
// which says what each means, whether it is the user's to fix and the hint the UI shows.
// test/errors/catalogue.test.ts compares this list with the catalogue both ways: a code is added there and here.
#pragma once

namespace hearth {

// One code of `codes` below. Only `codes` makes them, so a native error cannot carry a code the catalogue lacks.
class Code {
public:
    constexpr const char * name() const { return name_; }
    bool operator==(const Code & o) const { return name_ == o.name_; }
    bool operator!=(const Code & o) const { return name_ != o.name_; }

private:
    constexpr explicit Code(const char * name) : name_(name) {}
    const char * name_;
    friend struct codes;
};

struct codes {
    static constexpr Code aborted{"aborted"};
    static constexpr Code backend_failed{"backend_failed"};
    static constexpr Code context_failed{"context_failed"};
    static constexpr Code context_overflow{"context_overflow"};
    static constexpr Code decode_failed{"decode_failed"};
    static constexpr Code disposed{"disposed"};
    static constexpr Code internal{"internal"};
    static constexpr Code invalid_argument{"invalid_argument"};
    static constexpr Code load_failed{"load_failed"};
    static constexpr Code not_supported{"not_supported"};
    static constexpr Code out_of_memory{"out_of_memory"};
    static constexpr Code sampling_failed{"sampling_failed"};
    static constexpr Code session_failed{"session_failed"};
    static constexpr Code session_mismatch{"session_mismatch"};
};

} // namespace hearth
