#include "embed.h"

#include <algorithm>

#include "activity.h"
#include "util.h"

namespace hearth {

void runEmbed(Context::State & st, Task & t) {
    const enum llama_pooling_type pooling = llama_pooling_type(st.ctx);
    if (!st.embeddings || pooling == LLAMA_POOLING_TYPE_NONE) {
        throw HearthError(codes::not_supported, "this context was not created for embeddings (create it with embeddings: true on a model with pooling)");
    }
    if (pooling == LLAMA_POOLING_TYPE_RANK) {
        // llama.cpp returns a score per sequence for these, not a vector
        throw HearthError(codes::not_supported, "this is a reranking model (rank pooling): it scores pairs of texts and gives no embedding vectors; reranking is not supported");
    }
    const llama_model * model = st.model->model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_embd = llama_model_n_embd_out(model);
    const int n_ctx = (int) llama_n_ctx(st.ctx);
    llama_memory_t mem = llama_get_memory(st.ctx);
    const bool encoder = llama_model_has_encoder(model) && !llama_model_has_decoder(model);
    // a pooled sequence must be evaluated in one micro-batch (the context was made with ubatch = batch),
    // and the sequences of one batch share the KV cache
    const int per_batch = std::min({st.n_batch, st.n_ubatch, n_ctx});
    std::vector<std::vector<llama_token>> toks;
    for (const auto & s : t.texts) {
        toks.push_back(common_tokenize(vocab, s, true, true));
        if (toks.back().empty()) throw HearthError(codes::invalid_argument, "cannot embed an empty text");
        if ((int) toks.back().size() > per_batch) {
            throw HearthError(codes::context_overflow, "a text of " + std::to_string(toks.back().size()) + " tokens does not fit the batch of " + std::to_string(per_batch));
        }
    }
    t.embeddings.assign(toks.size(), {});
    size_t i = 0;
    while (i < toks.size()) {
        if (t.aborted || st.closing) throw HearthError(codes::aborted, "the embedding was aborted");
        // the whole cache is cleared: what each sequence remembers goes with it, before anything can
        // throw (an abort or a failed batch must not leave a chat believing its prefix is cached)
        llama_memory_clear(mem, true);
        for (auto & v : st.seq_tokens) v.clear();
        st.publish(false); // what info() shows while the embedding runs
        common_batch_clear(st.batch);
        std::vector<size_t> in_batch;
        int used = 0;
        while (i < toks.size() && (int) in_batch.size() < st.n_seq && used + (int) toks[i].size() <= per_batch) {
            int s = (int) in_batch.size();
            for (size_t j = 0; j < toks[i].size(); j++) common_batch_add(st.batch, toks[i][j], (llama_pos) j, {s}, true);
            used += (int) toks[i].size();
            in_batch.push_back(i++);
        }
        AllocationWatch allocation;
        int rc = encoder ? llama_encode(st.ctx, st.batch) : llama_decode(st.ctx, st.batch);
        progressHere(); // the host's watchdog (activity.h)
        if (rc != 0 && (t.aborted || st.closing)) throw HearthError(codes::aborted, "the embedding was aborted");
        if (rc != 0) throw HearthError(decodeFailure(rc, allocation.failed()), "embedding batch failed (code " + std::to_string(rc) + ")");
        for (size_t s = 0; s < in_batch.size(); s++) {
            const float * e = llama_get_embeddings_seq(st.ctx, (llama_seq_id) s);
            if (!e) throw HearthError(codes::internal, "llama.cpp returned no pooled embedding");
            std::vector<float> out(n_embd);
            common_embd_normalize(e, out.data(), n_embd, 2);
            t.embeddings[in_batch[s]] = std::move(out);
        }
    }
    llama_memory_clear(mem, true);
    for (auto & v : st.seq_tokens) v.clear();
}

} // namespace hearth
