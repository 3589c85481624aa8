// The sampler chain of a generation, built as llama.cpp's common/sampling.cpp builds it (that code
// builds it: common_sampler_init; mirostat 1 or 2 replaces the rest of the chain), and the per-token
// log-probabilities that sampling.nProbs asks for.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "common.h"
#include "llama.h"
#include "sampling.h"

namespace hearth {

// Resolves what depends on the context (repeatLastN and dryPenaltyLastN -1: the whole context;
// logitBias tokens inside the vocabulary) and builds the chain. Throws HearthError(codes::invalid_argument).
common_sampler * buildSampler(const llama_model * model, common_params_sampling & sp, int n_ctx);

// Plain greedy: the chain would pick the largest logit (temperature <= 0, nothing that changes the
// logits or removes the top token first: no suppress tokens in the model, no dynamic temperature), so
// the caller may take the argmax without the chain.
bool isPlainGreedy(const llama_model * model, const common_params_sampling & sp);

// Plain greedy's token: the first index of the largest of `n` logits, or LLAMA_TOKEN_NULL when any is
// NaN or +infinity (finiteLogits, in the same pass) or every one is -infinity. Every greedy pick (with
// a draft or without) is this.
llama_token argmaxLogits(const float * logits, int n);

// Whether every one of `n` logits is a number below +infinity, and some is above -infinity. A sampler
// chain is not given others: its sorts assume an order NaN breaks, and what it picked would be noise
// read as a reply.
bool finiteLogits(const float * logits, int n);

// Output `idx` of the context's last decode: its greedy token (argmaxLogits), and a check before a
// sampler chain reads it. Both throw decode_failed when its logits are not all numbers (finiteLogits).
llama_token greedyToken(llama_context * ctx, int idx);
void refuseNonFinite(llama_context * ctx, int idx);

// A generated token with its log-probability and the n likeliest tokens' (from the model's
// distribution before sampling, like llama-server's default), likeliest first.
struct TokenProbs {
    struct Alt {
        llama_token id;
        std::string text;
        float logprob;
    };
    llama_token id = LLAMA_TOKEN_NULL;
    std::string text;
    float logprob = 0;
    std::vector<Alt> top;
};

// `ids` is the run's scratch buffer (n_vocab ids, reused from token to token).
TokenProbs tokenProbs(llama_context * ctx, int idx, llama_token tok, int n, std::vector<llama_token> & ids);

// A generated token's probabilities: into the task's result and its next streamed event.
struct Task;
void recordProbs(Task & t, TokenProbs && p);
Napi::Array probsToJs(Napi::Env env, const std::vector<TokenProbs> & probs);

// samplerChain(model, sampling) -> the names of the samplers a generation would run; argmaxLogits(Float32Array)
// and finiteLogits(Float32Array) -> those functions of its values (test hooks)
void addSamplerExports(Napi::Env env, Napi::Object exports);

} // namespace hearth
