// The context-parameter combinations llama.cpp asserts on (an abort of the whole host), resolved or
// refused with a clear error before it sees them.
#pragma once

#include "llama.h"

namespace hearth {

// False for models with bidirectional attention (`<arch>.attention.causal = false`, BERT-style
// embedders) and encoder-only models.
bool modelIsCausal(const llama_model * model);

// Pooled embeddings and bidirectional attention need a whole sequence in one micro-batch: ubatch =
// batch there. `parallel` must not exceed the batch llama.cpp will use (capped at the context for
// causal models), since every sequence may need an output in one batch. model may be null (fitting
// before a load): then only the sizes given are checked. Throws HearthError(codes::invalid_argument).
void applyContextLimits(llama_context_params & cp, const llama_model * model);

} // namespace hearth
