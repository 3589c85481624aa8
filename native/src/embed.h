// Embedding tasks: texts packed into batches of whole sequences, one pooled vector per text.
#pragma once

#include "task.h"

namespace hearth {

// Runs on the context's worker thread; fills t.embeddings (L2-normalized) or throws HearthError.
void runEmbed(Context::State & st, Task & t);

} // namespace hearth
