#include "limits.h"

#include <algorithm>
#include <string>

#include "util.h"

namespace hearth {

static std::string metaValue(const llama_model * model, const std::string & key) {
    char buf[64];
    int32_t n = llama_model_meta_val_str(model, key.c_str(), buf, sizeof(buf));
    return n < 0 ? "" : std::string(buf, std::min<size_t>((size_t) n, sizeof(buf) - 1));
}

bool modelIsCausal(const llama_model * model) {
    if (llama_model_has_encoder(model) && !llama_model_has_decoder(model)) return false;
    return metaValue(model, metaValue(model, "general.architecture") + ".attention.causal") != "false";
}

void applyContextLimits(llama_context_params & cp, const llama_model * model) {
    const bool causal = model ? modelIsCausal(model) : true;
    if (cp.embeddings || !causal) cp.n_ubatch = cp.n_batch;
    uint32_t n_ctx = cp.n_ctx;
    if (n_ctx == 0 && model) n_ctx = (uint32_t) std::max(0, llama_model_n_ctx_train(model));
    // llama.cpp: n_batch = min(n_ctx, n_batch) with causal attention
    const uint32_t n_batch = causal && n_ctx > 0 ? std::min(n_ctx, cp.n_batch) : cp.n_batch;
    if (cp.n_seq_max > n_batch) {
        throw HearthError(codes::invalid_argument, "parallel (" + std::to_string(cp.n_seq_max) + ") must not exceed the batch size (" + std::to_string(n_batch) +
                                                  (n_batch < cp.n_batch ? ", the context size" : "") + "): every sequence may need a place in one batch");
    }
}

} // namespace hearth
