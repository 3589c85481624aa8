#include "embed.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>

#include "activity.h"
#include "data_text.h"
#include "prompt_tokens.h"
#include "util.h"

namespace hearth {

static enum llama_pooling_type pooledContext(Context::State & st) {
    const enum llama_pooling_type pooling = llama_pooling_type(st.ctx);
    if (!st.embeddings || pooling == LLAMA_POOLING_TYPE_NONE) {
        throw HearthError(codes::not_supported, "this context was not created for embeddings (create it with embeddings: true on a model with pooling)");
    }
    return pooling;
}

// the batch a pooled sequence must fit: it is evaluated in one micro-batch (the context was made with
// ubatch = batch), and the sequences of one batch share the KV cache
static int pooledBatch(Context::State & st) {
    return std::min({st.n_batch, st.n_ubatch, (int) llama_n_ctx(st.ctx)});
}

static void checkFits(const std::vector<llama_token> & toks, int per_batch, const char * what) {
    if (toks.empty()) throw HearthError(codes::invalid_argument, std::string("cannot evaluate an empty ") + what);
    if ((int) toks.size() > per_batch) {
        throw HearthError(codes::context_overflow, std::string("a ") + what + " of " + std::to_string(toks.size()) + " tokens does not fit the batch of " + std::to_string(per_batch));
    }
}

// Evaluates the sequences packed into batches of whole sequences (at most `max_seqs` to a batch) and
// hands each one's pooled output (llama_get_embeddings_seq: a vector, or for rank pooling the scores) to
// `take` with its index.
static void evalPooled(Context::State & st, Task & t, const std::vector<std::vector<llama_token>> & toks, int max_seqs,
                       const std::function<void(size_t, const float *)> & take) {
    const llama_model * model = st.model->model;
    llama_memory_t mem = llama_get_memory(st.ctx);
    const bool encoder = llama_model_has_encoder(model) && !llama_model_has_decoder(model);
    const int per_batch = pooledBatch(st);
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
        while (i < toks.size() && (int) in_batch.size() < std::min(st.n_seq, max_seqs) && used + (int) toks[i].size() <= per_batch) {
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
            take(in_batch[s], e);
        }
    }
    llama_memory_clear(mem, true);
    for (auto & v : st.seq_tokens) v.clear();
}

void runEmbed(Context::State & st, Task & t) {
    if (pooledContext(st) == LLAMA_POOLING_TYPE_RANK) {
        // llama.cpp returns a score per sequence for these, not a vector
        throw HearthError(codes::not_supported, "this is a reranking model (rank pooling): it scores a query against documents and gives no embedding vectors; use rerank");
    }
    const llama_model * model = st.model->model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_embd = llama_model_n_embd_out(model);
    const int per_batch = pooledBatch(st);
    std::vector<std::vector<llama_token>> toks;
    for (const auto & s : t.texts) {
        toks.push_back(common_tokenize(vocab, s, true, t.parseSpecial));
        checkFits(toks.back(), per_batch, "text");
    }
    t.embeddings.assign(toks.size(), {});
    evalPooled(st, t, toks, st.n_seq, [&](size_t i, const float * e) {
        std::vector<float> out(n_embd);
        common_embd_normalize(e, out.data(), n_embd, 2);
        t.embeddings[i] = std::move(out);
    });
}

// A model's "rerank" template cut into what fills it: its own text, cut at the special tokens in it as
// llama.cpp's tokenizer cuts a text (data_text.h cutAtSpecials), and the {query} and {document}
// places, found in one pass over the template (a query or document that itself holds "{document}" is
// text, never expanded again: a query of many "{document}" would otherwise ask for its document that
// many times over).
struct RerankPiece {
    enum Kind { PIECE, QUERY, DOCUMENT } kind;
    TextPiece piece; // PIECE
};

static std::vector<RerankPiece> rerankPieces(const std::vector<SpecialText> & specials, const std::string & tmpl) {
    std::vector<RerankPiece> pieces;
    std::string text;
    auto flush = [&] {
        std::vector<TextPiece> cut;
        cutAtSpecials(specials, text, cut);
        for (auto & p : cut) pieces.push_back({RerankPiece::PIECE, std::move(p)});
        text.clear();
    };
    for (size_t i = 0; i < tmpl.size();) {
        if (tmpl.compare(i, 7, "{query}") == 0) { flush(); pieces.push_back({RerankPiece::QUERY, {}}); i += 7; continue; }
        if (tmpl.compare(i, 10, "{document}") == 0) { flush(); pieces.push_back({RerankPiece::DOCUMENT, {}}); i += 10; continue; }
        text += tmpl[i++];
    }
    flush();
    return pieces;
}

// The pieces filled with a query and a document, tokenized: each run of text between two tokens (the
// template's text with the query or document in it) as text (tokenizePieces), so control-token text in
// the query or document stays text, even across its edges (user-defined tokens are split out of any
// text). A pair without such text, nor any made across those edges, gets the tokens the whole
// filled-in prompt gets with special tokens parsed (llama-server's way).
static std::vector<llama_token> fillRerankPieces(const llama_vocab * vocab, const std::vector<RerankPiece> & pieces, const std::string & query, const std::string & doc) {
    std::vector<TextPiece> filled;
    filled.reserve(pieces.size());
    for (const auto & p : pieces) {
        switch (p.kind) {
            case RerankPiece::PIECE: filled.push_back(p.piece); break;
            case RerankPiece::QUERY: filled.push_back({false, query}); break;
            case RerankPiece::DOCUMENT: filled.push_back({false, doc}); break;
        }
    }
    return tokenizePieces(vocab, filled, false);
}

// The pair as llama-server's format_prompt_rerank makes it: the model's "rerank" template with
// {query} and {document} replaced, else [BOS] query [EOS] [SEP] document [EOS] (each special token as
// the vocab adds it; SEP stands in for a missing EOS). With the template and `parse_special`, the
// filled-in prompt is tokenized with special tokens parsed, so special-token text in the query or a
// document becomes that token; without it (a query and documents that are data: the documents'
// search), `pieces` (the template's, rerankPieces) are filled and tokenized (fillRerankPieces).
static std::vector<llama_token> rerankPair(const llama_model * model, const std::string & query, const std::string & doc, bool parse_special,
                                           const std::vector<RerankPiece> * pieces) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::vector<llama_token> out;
    if (const char * tmpl = llama_model_chat_template(model, "rerank")) {
        if (!parse_special && pieces) return fillRerankPieces(vocab, *pieces, query, doc);
        const std::string t = tmpl;
        std::string prompt;
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, 7, "{query}") == 0) { prompt += query; i += 7; }
            else if (t.compare(i, 10, "{document}") == 0) { prompt += doc; i += 10; }
            else prompt += t[i++];
        }
        return common_tokenize(vocab, prompt, false, true);
    }
    const auto q = common_tokenize(vocab, query, false, false);
    const auto d = common_tokenize(vocab, doc, false, false);
    llama_token eos = llama_vocab_eos(vocab);
    if (eos == LLAMA_TOKEN_NULL) eos = llama_vocab_sep(vocab);
    if (llama_vocab_get_add_bos(vocab)) out.push_back(llama_vocab_bos(vocab));
    out.insert(out.end(), q.begin(), q.end());
    if (llama_vocab_get_add_eos(vocab)) out.push_back(eos);
    if (llama_vocab_get_add_sep(vocab)) out.push_back(llama_vocab_sep(vocab));
    out.insert(out.end(), d.begin(), d.end());
    if (llama_vocab_get_add_eos(vocab)) out.push_back(eos);
    return out;
}

void runRerank(Context::State & st, Task & t) {
    if (pooledContext(st) != LLAMA_POOLING_TYPE_RANK) {
        throw HearthError(codes::not_supported, "this model is not a reranker (its pooling is not rank): it cannot score documents against a query");
    }
    const int per_batch = pooledBatch(st);
    std::vector<std::vector<llama_token>> toks;
    // without parseSpecial, the template is cut once for every pair
    std::vector<RerankPiece> pieces;
    const char * tmpl = llama_model_chat_template(st.model->model, "rerank");
    if (!t.parseSpecial && tmpl) pieces = rerankPieces(specialsOf(*st.model), tmpl);
    for (const auto & doc : t.texts) {
        toks.push_back(rerankPair(st.model->model, t.query, doc, t.parseSpecial, tmpl ? &pieces : nullptr));
        checkFits(toks.back(), per_batch, "query and document pair");
        t.pairTokens += (int) toks.back().size();
    }
    t.scores.assign(toks.size(), 0.0f);
    // rank pooling gives the classifier's outputs per sequence; the first is the relevance (as llama-server).
    // One pair per batch: llama.cpp reads sequence s's scores at s * n_cls_out floats into the pooled
    // output, which holds n_embd floats per sequence when the model has no classification head
    // (cls_out), so any pair but the first of a batch would get another's numbers.
    evalPooled(st, t, toks, 1, [&](size_t i, const float * e) { t.scores[i] = e[0]; });
}

} // namespace hearth
