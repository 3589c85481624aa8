// A context's worker thread (workerLoop: which tasks run together, and in what order) and what it hands
// back: the published sequence sizes and memory, and each task settled on the JS thread (settle).
#pragma once

#include <memory>

#include "task.h"

namespace hearth {

// Resolves or rejects a finished task's promise on the JS thread (its result, or its error).
void settle(const std::shared_ptr<Task> & task);

// The context's worker thread, until the context stops (Context::stop) and its work is done.
void workerLoop(std::shared_ptr<Context::State> st);

} // namespace hearth
