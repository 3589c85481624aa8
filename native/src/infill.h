// Fill-in-the-middle: the prompt of an infill request, built from the model's FIM tokens as
// llama-server builds it. Generation (generation.cpp) runs it as a completion.
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"
#include "json.h"
#include "llama.h"

namespace hearth {

// The prompt of a fill-in-the-middle request (req.infill: { prefix, suffix, extra?, prompt? }) from the
// vocab's FIM tokens; not_supported when the model has none. The extra files take what the context
// leaves beside the reply (`max_tokens` < 0: a batch, at most a quarter of the context).
std::vector<llama_token> infillPrompt(const llama_vocab * vocab, const common_json & infill, int n_batch, int n_ctx, int64_t max_tokens);

} // namespace hearth
