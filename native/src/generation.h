// Generations (slots): preparing a request, stepping every running generation through one shared
// batch (continuous batching), and finishing each. Runs on the context's worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
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

// The phases of a generation on its sequence (a slot), as llama.cpp's server has them
// (tools/server: SLOT_STATE_STARTED, PROCESSING_PROMPT, DONE_PROMPT, GENERATING). The worker moves a
// run only by GenRun's transitions below (generation.cpp), and each step plans by the phase:
//
//   Waiting    -> Prompt (prepared), or Ended (maxTokens 0)
//   Prompt     -> Prompt (a chunk decoded), PromptDone (the last chunk decoded), or Ended
//   PromptDone -> Generating (its first token sampled), or Ended
//   Generating -> Generating (the next token sampled), or Ended
//   Ended      -> Done
//
// A run ends (Ended) stopped (eos, a stop string, length, aborted: the result's stopReason) or failed
// (an error recorded on its task, which the request gets instead).
enum class SlotState {
    Waiting,    // admitted to its sequence; the request is not prepared yet (prepareRun)
    Prompt,     // reading its prompt: tokens [n_past, prompt.size()) still to decode (n_past: nextPrompt())
    PromptDone, // the whole prompt is decoded; its first token is to be sampled (within the same step)
    Generating, // a sampled token (`pending`) is to be decoded by the next step
    Ended,      // stopped or failed: what the request gets is decided; the result is to be finished
    Done,       // finished (finishRun): timings, final parse and text handed out; the task settles
};

// A generation in progress. Several can run at once on different sequences (parallel slots): each
// step decodes one batch holding the next prompt chunk or the last sampled token of every run.
struct GenRun {
    std::shared_ptr<Task> task;
    Clock::time_point t0, tp0;
    std::optional<Clock::time_point> tg0; // when the first token was sampled (none: none was)
    bool chat = false;
    RenderedChat rc;
    std::vector<llama_token> prompt;
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
    std::string prefill_content, prefill_reasoning; // a continued reply's, as the parse reads it: not this reply's
    llama_token pending = LLAMA_TOKEN_NULL; // Generating: sampled, to be decoded in the next batch
    std::vector<llama_token> draft;         // speculative decoding: tokens drafted to follow `pending` (speculative.cpp)
    bool drafted_by_spec = false;           // the draft came from the context's drafter (it is told the verdict)
    // an image whose decode another run's stop preempted (batch.cpp stepImages): its prompt position and
    // embeddings, kept so that only the decode is done again, and how often its decode was preempted
    size_t encoded_at = SIZE_MAX;
    std::vector<float> encoded;
    int image_preemptions = 0;

    SlotState state() const { return state_; }
    // Ended or Done: nothing more is decoded or sampled for it
    bool ended() const { return state_ == SlotState::Ended || state_ == SlotState::Done; }
    // the next prompt token to decode (Prompt: the tokens before it are in the sequence's cache)
    size_t nextPrompt() const { return next_prompt_; }

    // The transitions, the only writers of the state (generation.cpp). A move the table above does
    // not have throws HearthError(codes::internal).
    void startPrompt(size_t n_past);     // Waiting -> Prompt: decoding starts after the reused prefix
    // Prompt -> Prompt, or PromptDone once `to` is the prompt's end (the prompt's time recorded)
    void promptDecoded(size_t to);
    void sampled(llama_token tok);       // PromptDone | Generating -> Generating, `tok` pending
    void stop(const char * reason);      // a live phase -> Ended: the request's stop reason
    void fail(Code code, const std::string & msg); // a live phase -> Ended: an error
    void done();                         // Ended -> Done

private:
    void moveTo(SlotState to);
    SlotState state_ = SlotState::Waiting;
    size_t next_prompt_ = 0;
};

// Streams text to the task's onEvent (coalesced: at most one call to JS per kEmitInterval, 100 ms; `now` flushes).
void emit(Task & t, const std::string & content, const std::string & reasoning, bool now = false);


// Steps 1-3 of a request: prompt, sampler, prefix reuse; Waiting -> Prompt (or Ended: maxTokens 0).
// Nothing is decoded. Throws HearthError.
void prepareRun(Context::State & st, GenRun & run);

// The token just sampled: stop strings, streaming, limits. Moves the run to Generating (the token
// pending) or stops it.
void onToken(Context::State & st, GenRun & run, llama_token tok);

// One decode for the running generations (see batch.cpp); the runs that end are left Ended (with their
// stop reason or their task's error).
void stepRuns(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs);

// Ended -> Done: timings, the final parse and the last held-back text (a run that failed: nothing).
void finishRun(GenRun & run);

} // namespace hearth

