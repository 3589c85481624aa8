// Session files: save and restore one sequence of a context (tasks run on its worker thread).
#pragma once

#include "task.h"

namespace hearth {

void runSave(Context::State & st, Task & t);

// The tokens a session file states, and the file's size: its header read, nothing else checked; -1 when
// it is no session file this build reads (the restore then says why).
int64_t sessionFileTokens(const std::string & path, uint64_t & size);

// Restores the file into the task's sequence. `side`: between the steps of running generations, where
// llama.cpp may refuse the state for want of room (its cells must be contiguous): then the sequence is
// left empty and false returned, for the restore to be tried again alone; any other failure throws.
bool runRestore(Context::State & st, Task & t, bool side = false);

} // namespace hearth
