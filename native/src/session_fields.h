// What the fields of a saved session's state may hold, for the memory modules whose formats Hearth knows
// (session.cpp's reader refuses the rest before llama.cpp reads them), and the state read part by part.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "task.h" // Context::State

#include "../src/llama-io.h"
#include "../src/llama-memory.h"

namespace hearth {

// The 4-byte fields a state may hold for this context.
struct StateFields {
    uint32_t most = UINT32_MAX;   // any count, size or position: at most this
    std::vector<uint32_t> widths; // or exactly one of the model's widths
    // Why `v` cannot be the field about to be read ("" where it can); `recurrent_cells`: the field is a
    // recurrent state's first, its cell count.
    std::string refuse(uint32_t v, bool recurrent_cells) const;
};

// What `mem`'s state may hold in this context (no bound for a module whose format this does not know).
StateFields stateFields(const Context::State & st, const llama_memory_i & mem);

// Reads `mem`'s state of `seq` from `io` (llama.cpp's state_read), calling `recurrentStarts` just before
// a recurrent state's part: the whole state of a recurrent model, the second part of a hybrid's.
void readState(llama_memory_i & mem, llama_io_read_i & io, llama_seq_id seq, const std::function<void()> & recurrentStarts);

} // namespace hearth
