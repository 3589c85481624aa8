// The KV cache's cells as the sequences of a context share them: what is free, making room by
// dropping idle sequences' cached prefixes, and llama.cpp's context shift on one sequence.
#pragma once

#include <vector>

#include "task.h"

namespace hearth {

// cells free in the whole cache (each token a sequence holds takes one; parallel sequences share one
// unified cache, so this counts every sequence, not only the caller's)
int kvCellsFree(const Context::State & st);

// Drops the cached prefixes of sequences not in `busy` nor kept (Context::State::keep_seq: a save waits
// for it), largest first, until `need` cells are free or none is left. Returns the cells free afterwards.
int kvMakeRoom(Context::State & st, const std::vector<bool> & busy, int need);

// Context shift on `seq`: keeps its first n_keep tokens (at most the cache size - 4) and drops half of
// the rest, moving what follows down. False when nothing can be dropped (or the cache cannot shift).
bool kvShift(Context::State & st, int seq, int n_keep);

} // namespace hearth
