// Speculative decoding: a context's drafter (llama.cpp's common_speculative: a draft model's own
// context, or its n-gram lookups over each sequence's tokens), drafts for the generating runs of a step,
// and the target's verdict on them (common_sampler_sample_and_accept_n: the accepted tokens are the ones
// the run's own sampler picks). Runs on the context's worker thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "llama.h"
#include "speculative.h" // llama.cpp's common/speculative.h

namespace hearth {

struct GenRun;
struct ModelHandle;

// One context's drafter. The draft model's context mirrors the target's sequences lazily: before a
// draft, each sequence's draft cache is cut to the longest prefix it shares with the target's tokens and
// the rest is decoded, so whatever moved the target's cache (prefix reuse, idle sequences dropped, a
// context shift, a session restored, a sequence cleared) the draft follows without being told.
struct Speculation {
    std::string kind;                  // "draft" or an n-gram kind (llama.cpp's names)
    common_params_speculative params;
    llama_context * ctx_dft = nullptr; // the draft model's context (kind "draft"), owned
    common_speculative * spec = nullptr;
    std::vector<std::vector<llama_token>> dft_tokens; // what the draft context holds per sequence
    llama_batch batch{};               // the draft context's catch-up batch
    int n_batch = 0;
    // the two vocabularies' sizes (a draft model's): llama.cpp's check lets them differ by up to 128
    // tokens, and a token of one past the other's end fails any batch it is in
    int n_vocab_tgt = 0, n_vocab_dft = 0;
    ~Speculation();
};

// The draft model's context beside a target's context made with `cp` (llama.cpp's
// common_base_params_to_speculative): the target's context size as asked (none: `n_ctx_train`, the
// target's), so llama.cpp rounds both to the same cells and clamps both batches alike; the target's
// sequences, one output per sequence, an F16 cache, no embeddings. The drafter makes its context so, and
// the estimate and both fits (fitParams, a load's, which set the cells themselves) reckon the draft's memory so.
llama_context_params draftContextParams(llama_context_params cp, uint32_t n_ctx_train);

// The drafter for a context of `model` (null: the model's load settings ask for none). Throws
// HearthError: a draft whose vocabulary llama.cpp finds incompatible with the target's (load_failed,
// naming both files), a model whose cache cannot drop a rejected draft (not_supported).
std::unique_ptr<Speculation> makeSpeculation(const ModelHandle & model, llama_context * ctx, const llama_context_params & cp);

// A run's prompt is in its sequence: the n-gram drafters learn it (common_speculative_begin).
void specBegin(Speculation & sp, int seq, const std::vector<llama_token> & tokens);

struct DraftAsk {
    GenRun * run;
    int n_max; // at most this many draft tokens (0: none)
};
// Drafts for the runs asked (their pending token follows their sequence's tokens), into run->draft.
void specDraft(Speculation & sp, const std::vector<std::vector<llama_token>> & seq_tokens, const std::vector<DraftAsk> & asks);

// The target's logits at idxs (the pending token's, then each draft token's) decide: the tokens its
// sampler accepts (at least one: the token after the last accepted draft token). Counted in the run's
// result; the drafter is told.
std::vector<llama_token> specVerify(Speculation * sp, llama_context * ctx, GenRun & run, const std::vector<int> & idxs);

} // namespace hearth
