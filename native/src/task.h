// What a Context's worker works on: the tasks in its queue, and the state it shares with the JS
// thread. Shared by the files that run those tasks (context.cpp, embed.cpp, kv_space.cpp).
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "activity.h"
#include "adapters.h"
#include "chat.h"
#include "common.h"
#include "context.h"
#include "errors.h"
#include "llama_gate.h"
#include "llama.h"
#include "memory.h"
#include "model.h"
#include "prompt_tokens.h"
#include "sampler.h"
#include "speculation.h"
#include "util.h"

namespace hearth {

struct GenResult {
    std::string text, content, reasoning, stopReason;
    std::vector<common_chat_tool_call> toolCalls;
    std::vector<llama_token> tokens; // generated token ids
    std::vector<TokenProbs> probs;   // their log-probabilities (sampling.nProbs > 0)
    int promptTokens = 0, cachedTokens = 0, generatedTokens = 0, droppedMessages = 0;
    int tokenizedTokens = 0; // the prompt's tokens made by tokenizing for this request, not taken over from an earlier render (each render of a chat cut to fit counts; an image's positions count)
    int tokensAfterAbort = -1; // tokens generated after abort() was called (-1: not aborted while running)
    int promptTokensAfterAbort = -1; // prompt tokens decoded after abort() was called (-1: likewise)
    bool shifted = false, contextFull = false;
    double ttftMs = 0, promptMs = 0, genMs = 0;
    int draftTokens = 0, acceptedTokens = 0; // speculative decoding: tokens drafted, and those the target accepted
};

struct Task {
    enum Kind { GENERATE, EMBED, RERANK, SAVE, RESTORE, CLEAR } kind = GENERATE;
    uint64_t id = 0;
    int seq = 0;
    common_json req;
    std::vector<float> lora_scales;     // GENERATE: the LoRA scales it runs with (adapters.h)
    std::string lora_key;               // and the set they apply (runs with another set wait)
    std::vector<std::string> texts;     // EMBED: the texts; RERANK: the documents
    std::string query;                  // RERANK
    bool parseSpecial = true;           // EMBED, RERANK: special-token text in the inputs is a special token (llama-server's way); false: text
    std::string path;
    int64_t saveBytes = -1;             // SAVE waiting behind generations: its state's size, asked once (worker)
    int64_t restoreCells = -2;          // RESTORE waiting behind generations: the tokens its file states (-1: none), read once (worker)
    bool restoreAlone = false;          // RESTORE: llama.cpp refused it between generations' steps: tried again alone
    bool gaveWay = false;               // SAVE: it gave way to a generation's stop, and waits to run again (worker)
    std::atomic<bool> aborted{false};
    std::atomic<int> generated{0};      // tokens generated so far, read by abort()
    std::atomic<int> abortedAt{-1};     // `generated` when abort() was called on the running task
    std::atomic<int> prompted{0};       // prompt tokens decoded so far, read by abort()
    std::atomic<int> promptedAt{-1};    // `prompted` when abort() was called on the running task
    Napi::ThreadSafeFunction tsfn;
    std::mutex out_mu;                  // streamed text not yet handed to JS
    std::string out_content, out_reasoning;
    std::vector<TokenProbs> out_probs;
    bool out_scheduled = false;
    std::chrono::steady_clock::time_point last_emit{}; // when a call to JS was last queued
    std::shared_ptr<Napi::Promise::Deferred> deferred;
    // set by the worker
    std::optional<Failure> error; // or by abort() and dispose() for a task still queued
    GenResult gen;
    std::vector<std::vector<float>> embeddings;
    std::vector<float> scores;          // RERANK: one per document
    int sessionTokens = 0;              // SAVE/RESTORE: the sequence's tokens
    int pairTokens = 0;                 // RERANK: the tokens of all the query/document pairs
};

struct Context::State {
    std::shared_ptr<ModelHandle> model;
    llama_context * ctx = nullptr;
    llama_batch batch{};
    // what llama.cpp made of the requested sizes (llama_n_batch/llama_n_ubatch: the batch is capped at
    // the context for causal models): every decode holds at most n_batch tokens, and a generation step
    // at most one micro-batch of prompt tokens (see stepRuns)
    int n_ctx = 0, n_batch = 0, n_ubatch = 0;
    int n_seq = 1;
    bool embeddings = false;
    ggml_type type_k = GGML_TYPE_F16, type_v = GGML_TYPE_F16;
    std::string flash_attn = "auto"; // as asked: auto, on or off
    int threads = 0, threads_batch = 0;
    bool swa_full = false; // sliding-window layers keep the whole context (else only their window)
    // the tokens each sequence holds in the KV cache (one cell each; the sequences share the cache);
    // the worker's alone: the JS thread reads what publish() copied
    std::vector<std::vector<llama_token>> seq_tokens;
    // the adapters the context was created with, the set applied now (its key) and the set each
    // sequence's cached tokens were computed under; the worker's alone, but `adapters`, read-only after
    // creation (adapters.h)
    ContextAdapters adapters;
    std::string lora_applied;
    std::vector<std::string> seq_lora;
    // each sequence's last chat prompt and its tokens, whatever its cache holds now: a follow-up turn
    // tokenizes only what it adds (prompt_tokens.h). The worker's alone; sized by prepareRun
    std::vector<PromptMemo> seq_prompts;
    // speculative decoding (speculation.h): the drafter, when the model's load settings ask for one
    std::unique_ptr<Speculation> spec;

    // what the worker publishes for the JS thread (info(), memoryBreakdown()), which must not read
    // seq_tokens or llama.cpp's accounting while a decode changes them
    struct Published {
        std::vector<int> seq_tokens;
        ContextMemory memory;
    };
    std::mutex pub_mu;
    Published pub;
    // worker thread (or before it starts): copies the sequences' sizes, and llama.cpp's memory
    // accounting when `memory` (it changes only when a decode reallocates a buffer)
    void publish(bool memory);
    Published published();

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::shared_ptr<Task>> queue;
    std::vector<std::shared_ptr<Task>> active; // running now (generations, and between their steps a clearing, or a small save or restore)
    // worker thread: the sequence of a save that gave way to a stop and waits at the queue's front (-1:
    // none); making room for a decode does not drop its cells (kvMakeRoom)
    int keep_seq = -1;
    std::atomic<std::atomic<bool> *> abort_flag{nullptr};
    std::atomic<bool> closing{false}; // dispose(): llama.cpp's abort callback stops any decode
    // the work running now also stops when this answers true (an image's, for another run's stop):
    // asked by the thread running the work, between graph nodes
    std::atomic<const std::function<bool()> *> also_stop{nullptr};
    // whether the work running now is to stop: its request aborted (abort_flag), the context disposed,
    // or also_stop
    bool aborting() const {
        if (closing.load()) return true;
        std::atomic<bool> * f = abort_flag.load();
        if (f && f->load()) return true;
        const std::function<bool()> * also = also_stop.load();
        return also && (*also)();
    }
    bool stopping = false;
    std::thread worker;

    ~State() {
        Activity freeing("free", model ? model->path : std::string()); // watched, as in ~ModelHandle
        {
            LlamaUse use;
            spec.reset(); // its draft context, before the target's
            if (ctx) llama_free(ctx);
            adapters.release(); // after the context that used them
            if (batch.token) llama_batch_free(batch);
        }
        if (ctx) returnFreedMemory(); // outside the use: a fit need not wait for it
    }
};

} // namespace hearth
