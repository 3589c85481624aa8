// Speculative decoding on a context (speculation.h): llama.cpp's common_speculative drafts, the run's
// own sampler verifies (common_sampler_sample_and_accept_n).
#include "speculation.h"

#include <algorithm>
#include <stdexcept>

#include "activity.h"
#include "generation.h"
#include "model.h"
#include "sampling.h"
#include "util.h"

namespace hearth {

Speculation::~Speculation() {
    if (spec) common_speculative_free(spec);
    if (ctx_dft) llama_free(ctx_dft);
    if (batch.token) llama_batch_free(batch);
}

llama_context_params draftContextParams(llama_context_params cp, uint32_t n_ctx_train) {
    if (cp.n_ctx == 0) cp.n_ctx = n_ctx_train;
    cp.n_outputs_max = std::max<uint32_t>(1, cp.n_seq_max);
    cp.n_outputs_max_per_seq = 1;
    cp.type_k = GGML_TYPE_F16;
    cp.type_v = GGML_TYPE_F16;
    cp.embeddings = false;
    cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED;
    return cp;
}

std::unique_ptr<Speculation> makeSpeculation(const ModelHandle & model, llama_context * ctx, const llama_context_params & cp) {
    if (model.specKind == "none") return nullptr;
    auto sp = std::make_unique<Speculation>();
    sp->kind = model.specKind;
    // a rejected draft's tokens leave the target's cache: a recurrent or hybrid model's cannot drop a tail
    if (common_context_can_seq_rm(ctx) != COMMON_CONTEXT_SEQ_RM_TYPE_PART) {
        throw HearthError(codes::not_supported, "speculative decoding needs a model whose cache can drop tokens; " + model.path +
                                                    " is recurrent or hybrid (turn speculative decoding off for it)");
    }
    // a sliding-window cache without swaFull drops window cells a rejected draft's tail would still need
    if (llama_model_n_swa(model.model) > 0 && !cp.swa_full) {
        throw HearthError(codes::not_supported, "speculative decoding on a sliding-window model (" + model.path +
                                                    ") needs the full sliding-window cache: turn swaFull on, or speculative decoding off");
    }
    const int n_seq = (int) llama_n_seq_max(ctx);
    common_params_speculative & p = sp->params;
    p = model.specParams; // the draft model's bounds and the n-gram kinds' limits
    p.types = {common_speculative_type_from_name(sp->kind == "draft" ? "draft-simple" : sp->kind)};
    if (p.types[0] == COMMON_SPECULATIVE_TYPE_COUNT) throw HearthError(codes::invalid_argument, "unknown speculative kind " + sp->kind);
    if (sp->kind == "draft") {
        if (!model.draft) throw HearthError(codes::internal, "speculative decoding: the draft model is not loaded");
        sp->ctx_dft = llama_init_from_model(model.draft, draftContextParams(cp, llama_model_n_ctx_train(model.model)));
        if (!sp->ctx_dft) throw HearthError(codes::context_failed, "llama.cpp could not create a context for the draft model " + model.draftPath + " (see the engine log)");
        if (common_context_can_seq_rm(sp->ctx_dft) != COMMON_CONTEXT_SEQ_RM_TYPE_PART) {
            throw HearthError(codes::not_supported, "the draft model " + model.draftPath + " is recurrent or hybrid: its cache cannot drop a rejected draft");
        }
        sp->n_batch = (int) llama_n_batch(sp->ctx_dft);
        sp->n_vocab_tgt = llama_vocab_n_tokens(llama_model_get_vocab(model.model));
        sp->n_vocab_dft = llama_vocab_n_tokens(llama_model_get_vocab(model.draft));
        sp->batch = llama_batch_init(sp->n_batch, 0, std::max(1, n_seq));
        p.draft.ctx_tgt = ctx;
        p.draft.ctx_dft = sp->ctx_dft;
    }
    try {
        // the draft kind runs llama.cpp's vocabulary check here (common_speculative_are_compatible)
        sp->spec = common_speculative_init(p, (uint32_t) n_seq);
    } catch (const std::exception & e) {
        const std::string why = e.what();
        if (why.find("vocab") != std::string::npos) {
            throw HearthError(codes::load_failed, "the draft model " + model.draftPath + " cannot draft for " + model.path +
                                                      ": llama.cpp finds their vocabularies incompatible (the vocabulary type, BOS/EOS tokens, size or token texts differ)");
        }
        throw HearthError(codes::load_failed, "llama.cpp could not set up speculative decoding (" + why + ")");
    }
    if (!sp->spec) throw HearthError(codes::load_failed, "llama.cpp could not set up speculative decoding of kind " + sp->kind);
    sp->dft_tokens.assign(n_seq, {});
    return sp;
}

void specBegin(Speculation & sp, int seq, const std::vector<llama_token> & tokens) {
    common_speculative_begin(sp.spec, seq, tokens);
}

// The draft context's sequences follow the target's: each is cut to the prefix it shares with the
// target's tokens (every sequence, so cells the target let go are free in the draft too), and the
// sequences about to draft decode what they lack: at most one micro-batch of the draft context per step
// (in one decode), so that a long prompt's catch-up (or one after a context shift or a restored session)
// is spread over the steps, each no longer than a step of the target's own prompt: a stop, and the other
// runs, never wait for a whole prompt's catch-up. False for a sequence that drafts nothing this step: its
// catch-up is not done (it goes on at the next step) or failed (it is emptied).
static std::vector<bool> syncDraft(Speculation & sp, const std::vector<std::vector<llama_token>> & seq_tokens, const std::vector<bool> & drafting) {
    llama_memory_t mem = llama_get_memory(sp.ctx_dft);
    const int n_seq = (int) sp.dft_tokens.size();
    std::vector<bool> ok(n_seq, true);
    std::vector<size_t> from(n_seq, 0);
    for (int s = 0; s < n_seq; s++) {
        std::vector<llama_token> & d = sp.dft_tokens[s];
        const std::vector<llama_token> & t = seq_tokens[s];
        size_t n = 0;
        while (n < d.size() && n < t.size() && d[n] == t[n]) n++;
        if (n < d.size()) {
            if (!llama_memory_seq_rm(mem, s, (llama_pos) n, -1)) {
                llama_memory_seq_rm(mem, s, -1, -1);
                n = 0;
            }
            d.resize(n);
        }
        from[s] = n;
    }
    // decode the missing tokens of the drafting sequences, several sequences in one batch, no outputs
    const int cap = std::min(sp.n_batch, (int) llama_n_ubatch(sp.ctx_dft));
    common_batch_clear(sp.batch);
    std::vector<int> in_batch;
    for (int s = 0; s < n_seq && sp.batch.n_tokens < cap; s++) {
        if (!drafting[s] || !ok[s]) continue;
        const std::vector<llama_token> & t = seq_tokens[s];
        const size_t start = sp.dft_tokens[s].size();
        size_t end = std::min(t.size(), start + (size_t) (cap - sp.batch.n_tokens));
        // a token past the draft's vocabulary (the target's is larger) is read no further: that
        // sequence never catches up, so it drafts nothing while the token is in it (no batch fails)
        for (size_t j = start; j < end; j++) {
            if (t[j] >= sp.n_vocab_dft) end = j;
        }
        if (end <= start) continue;
        for (size_t j = start; j < end; j++) common_batch_add(sp.batch, t[j], (llama_pos) j, {s}, false);
        in_batch.push_back(s);
    }
    if (sp.batch.n_tokens > 0) {
        const int rc = llama_decode(sp.ctx_dft, sp.batch);
        progressHere(); // the host's watchdog (activity.h)
        for (int s : in_batch) {
            if (rc != 0) {
                llama_memory_seq_rm(mem, s, -1, -1);
                sp.dft_tokens[s].clear();
                ok[s] = false;
                continue;
            }
            const std::vector<llama_token> & t = seq_tokens[s];
            const size_t start = sp.dft_tokens[s].size();
            size_t added = 0;
            for (int i = 0; i < sp.batch.n_tokens; i++) added += sp.batch.seq_id[i][0] == s ? 1 : 0;
            sp.dft_tokens[s].insert(sp.dft_tokens[s].end(), t.begin() + start, t.begin() + start + added);
        }
    }
    // a sequence that has not caught up drafts from a later step on
    for (int s = 0; s < n_seq; s++) {
        if (drafting[s] && sp.dft_tokens[s].size() < seq_tokens[s].size()) ok[s] = false;
    }
    return ok;
}

void specDraft(Speculation & sp, const std::vector<std::vector<llama_token>> & seq_tokens, const std::vector<DraftAsk> & asks) {
    const int n_seq = (int) seq_tokens.size();
    std::vector<bool> drafting(n_seq, false);
    for (const DraftAsk & a : asks) {
        a.run->draft.clear();
        // (a pending token past a draft model's vocabulary cannot be decoded by it: no draft)
        if (a.n_max > 0 && (!sp.ctx_dft || a.run->pending < sp.n_vocab_dft)) drafting[a.run->task->seq] = true;
    }
    std::vector<bool> ok(n_seq, true);
    if (sp.ctx_dft) ok = syncDraft(sp, seq_tokens, drafting);
    int n = 0;
    for (const DraftAsk & a : asks) {
        const int seq = a.run->task->seq;
        if (!drafting[seq] || !ok[seq]) continue;
        common_speculative_get_draft_params(sp.spec, seq) = {
            /* .drafting = */ true,
            /* .n_max    = */ a.n_max,
            /* .n_past   = */ (llama_pos) seq_tokens[seq].size(),
            /* .id_last  = */ a.run->pending,
            /* .prompt   = */ &seq_tokens[seq],
            /* .result   = */ &a.run->draft,
        };
        n++;
    }
    if (n == 0) return;
    common_speculative_draft(sp.spec);
    progressHere();
    for (const DraftAsk & a : asks) {
        const int seq = a.run->task->seq;
        if (!drafting[seq] || !ok[seq]) continue;
        std::vector<llama_token> & draft = a.run->draft;
        if ((int) draft.size() > a.n_max) draft.resize(a.n_max);
        // a drafted token past the target's vocabulary (the draft's is larger) would fail the verifying
        // batch, every run in it: the draft ends before it
        if (sp.ctx_dft) {
            const auto past = std::find_if(draft.begin(), draft.end(), [&](llama_token x) { return x < 0 || x >= sp.n_vocab_tgt; });
            draft.erase(past, draft.end());
        }
        a.run->drafted_by_spec = !draft.empty();
        if (!sp.ctx_dft) continue;
        // what drafting decoded in the draft's cache: the pending token, then draft tokens, from n_past on
        const size_t n_past = seq_tokens[seq].size();
        const llama_pos pos_max = llama_memory_seq_pos_max(llama_get_memory(sp.ctx_dft), seq);
        const size_t decoded = pos_max + 1 > (llama_pos) n_past ? (size_t) (pos_max + 1) - n_past : 0;
        std::vector<llama_token> & d = sp.dft_tokens[seq];
        d.resize(n_past);
        for (size_t i = 0; i < decoded; i++) d.push_back(i == 0 ? a.run->pending : i - 1 < draft.size() ? draft[i - 1] : LLAMA_TOKEN_NULL);
    }
}

std::vector<llama_token> specVerify(Speculation * sp, llama_context * ctx, GenRun & run, const std::vector<int> & idxs) {
    std::vector<llama_token> ids;
    const std::vector<llama_token> & draft = run.draft;
    if (run.argmax) {
        // plain greedy takes the largest logit (as the run does without a draft), accepting the draft
        // while it agrees: what common_sampler_sample_and_accept_n does with a greedy chain
        for (size_t i = 0; i < idxs.size(); i++) {
            const llama_token best = greedyToken(ctx, idxs[i]);
            common_sampler_accept(run.smpl.get(), best, true);
            ids.push_back(best);
            if (i >= draft.size() || best != draft[i]) break;
        }
    } else {
        for (int idx : idxs) refuseNonFinite(ctx, idx);
        ids = common_sampler_sample_and_accept_n(run.smpl.get(), ctx, idxs, draft);
    }
    const int accepted = (int) ids.size() - 1;
    GenResult & r = run.task->gen;
    r.draftTokens += (int) draft.size();
    r.acceptedTokens += accepted;
    if (sp && run.drafted_by_spec) common_speculative_accept(sp->spec, run.task->seq, (uint16_t) accepted);
    run.drafted_by_spec = false;
    return ids;
}

} // namespace hearth
