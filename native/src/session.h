// Session files: save and restore one sequence of a context (tasks run on its worker thread).
#pragma once

#include "task.h"

namespace hearth {

void runSave(Context::State & st, Task & t);
void runRestore(Context::State & st, Task & t);

} // namespace hearth
