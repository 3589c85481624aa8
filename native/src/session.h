// Session files: save and restore one sequence of a context (tasks run on its worker thread).
#pragma once

#include "task.h"

namespace hearth {

// The tokens a session file states, and the file's size: its header read, nothing else checked; -1 when
// it is no session file this build reads (the restore then says why).
int64_t sessionFileTokens(const std::string & path, uint64_t & size);

// What a save or restore between the steps of generations came to
enum class TaskOutcome {
    Done,
    Refused,   // beside running generations, llama.cpp refused the state: to be tried again alone
    Preempted, // a stop of a running generation (also_stop) came first: to be tried again after a step
};

// Saves the task's sequence to its file (through a temporary one, renamed). Preempted when a stop of a
// running generation (also_stop, between the steps of generations) came first: nothing was written.
// Its own stop throws `aborted`; any failure throws.
TaskOutcome runSave(Context::State & st, Task & t);

// Restores the file into the task's sequence. `side`: between the steps of running generations, where
// the restore gives way (between pieces, before it finishes: the sequence as it was, or empty once the
// state was being read) to a stop of one of them, and where a refusal by llama.cpp is reported as Refused, not thrown (the room it needs was
// counted by tokens, and llama.cpp's cells may be counted otherwise). Its own stop throws `aborted`;
// any other failure throws.
TaskOutcome runRestore(Context::State & st, Task & t, bool side = false);

} // namespace hearth
