// Embedding and reranking tasks: texts (or query/document pairs) packed into batches of whole
// sequences, one pooled output per sequence.
#pragma once

#include "task.h"

namespace hearth {

// Runs on the context's worker thread; fills t.embeddings (L2-normalized) or throws HearthError.
void runEmbed(Context::State & st, Task & t);

// Runs on the context's worker thread on a rank-pooling model: fills t.scores with one relevance score
// per document in t.texts against t.query (the raw score, as llama-server gives it) and t.pairTokens
// with the tokens evaluated, or throws HearthError.
void runRerank(Context::State & st, Task & t);

} // namespace hearth
