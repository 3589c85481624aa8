// Generations (slots): preparing a request, stepping every running generation through one shared
// batch (continuous batching), and finishing each. Runs on the context's worker thread.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chat_render.h"
#include "sampler.h"
#include "sampling.h"
#include "task.h"

namespace hearth {

using Clock = std::chrono::steady_clock;
inline double msSince(Clock::time_point t0, Clock::time_point t1) {
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// A generation in progress. Several can run at once on different sequences (parallel slots): each
// step decodes one batch holding the next prompt chunk or the last sampled token of every run.
struct GenRun {
    std::shared_ptr<Task> task;
    Clock::time_point t0, tp0, tg0;
    bool chat = false;
    RenderedChat rc;
    std::vector<llama_token> prompt;
    size_t next_prompt = 0;        // next prompt token to decode
    common_sampler_ptr smpl;
    bool argmax = false;           // plain greedy: no penalties, biases or grammar, so the largest logit is the token
    int n_probs = 0;               // sampling.nProbs: log-probabilities kept per token
    TokenProbs probs;              // the last sampled token's
    std::vector<llama_token> probs_ids; // tokenProbs' scratch: the vocabulary's ids, reused per token
    std::vector<std::string> stops;
    size_t max_stop = 0;
    std::set<llama_token> preserved;
    common_chat_parser_params pp;
    bool parse_stream = false;
    int max_tokens = -1;
    bool ignore_eos = false;
    std::string policy;
    int n_keep = 0;                // leading tokens a context shift keeps (BOS, the system prompt)
    size_t emitted = 0;
    std::string sent_content, sent_reasoning;
    bool first = true;
    bool prompt_done = false;
    llama_token pending = LLAMA_TOKEN_NULL; // sampled, to be decoded in the next batch
    bool finished = false;
};

// Streams text to the task's onEvent (coalesced: at most one call to JS per ~50 ms; `now` flushes).
void emit(Task & t, const std::string & content, const std::string & reasoning, bool now = false);

// Steps 1-3 of a request: prompt, sampler, prefix reuse. Nothing is decoded. Throws HearthError.
void prepareRun(Context::State & st, GenRun & run);

// The token just sampled: stop strings, streaming, limits. Sets run.pending to decode it next, or
// run.finished.
void onToken(Context::State & st, GenRun & run, llama_token tok);

// One decode for the running generations (see batch.cpp); sets `finished` (and the task's error) on the
// runs that end.
void stepRuns(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs);

// Timings, the final parse and the last held-back text of a run that ended without error.
void finishRun(GenRun & run);

} // namespace hearth

