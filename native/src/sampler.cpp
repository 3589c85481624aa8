#include "sampler.h"
#include "llama_gate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "model.h"
#include "params.h"
#include "task.h"
#include "util.h"

namespace hearth {

common_sampler * buildSampler(const llama_model * model, common_params_sampling & sp, int n_ctx) {
    // -1: the whole context, as llama-server; a window beyond the context is the whole context too
    if (sp.penalty_last_n < 0 || sp.penalty_last_n > n_ctx) sp.penalty_last_n = n_ctx;
    if (sp.dry_penalty_last_n < 0 || sp.dry_penalty_last_n > n_ctx) sp.dry_penalty_last_n = n_ctx;
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    for (const auto & b : sp.logit_bias) {
        if (b.token < 0 || b.token >= n_vocab) throw HearthError(codes::invalid_argument, "logitBias token " + std::to_string(b.token) + " is outside the vocabulary");
    }
    // common_sampler_init prefills an output-format or tool-call grammar with the generation prompt's
    // tokens (special tokens parsed), and an end-of-generation token there with the grammar unfinished is
    // a GGML_ABORT (llama-grammar.cpp): such a prompt (a continued reply's text spelling one) is refused
    if (!common_grammar_value(sp.grammar).empty() && !sp.grammar_lazy && common_grammar_needs_prefill(sp.grammar) && !sp.generation_prompt.empty()) {
        const llama_vocab * vocab = llama_model_get_vocab(model);
        for (llama_token t : common_tokenize(vocab, sp.generation_prompt, false, true)) {
            if (llama_vocab_is_eog(vocab, t)) {
                throw HearthError(codes::invalid_argument, "with a grammar or schema, the generation prompt may not hold an end-of-generation token (" +
                                                               common_token_to_piece(vocab, t, true) + "), as the text of a reply being continued may");
            }
        }
    }
    common_sampler * s = nullptr;
    try {
        s = common_sampler_init(model, sp);
    } catch (const std::exception & e) {
        throw HearthError(codes::invalid_argument, std::string("llama.cpp could not set up sampling for this request (") + e.what() +
                                                  "); with a grammar or schema, the template's generation prompt must tokenize the way the grammar expects");
    }
    if (!s) throw HearthError(codes::invalid_argument, "the grammar or sampling parameters were rejected by llama.cpp");
    return s;
}

bool isPlainGreedy(const llama_model * model, const common_params_sampling & sp) {
    // common_sampler_init biases the model's suppress tokens (tokenizer.ggml.suppress_tokens) to -inf
    int32_t n_suppress = 0;
    llama_vocab_get_suppress_tokens(llama_model_get_vocab(model), &n_suppress);
    if (n_suppress > 0) return false;
    // dynamic temperature samples with a temperature in [max(0, temp - range), temp + range]
    if (sp.dynatemp_range > 0.0f) return false;
    const bool penalties = sp.penalty_last_n != 0 && (sp.penalty_repeat != 1.0f || sp.penalty_freq != 0.0f || sp.penalty_present != 0.0f);
    const bool dry = sp.dry_multiplier != 0.0f && sp.dry_penalty_last_n != 0;
    const bool xtc = sp.xtc_probability > 0.0f && sp.xtc_threshold <= 0.5f;
    // a reasoning budget is a sampler of the chain (common/reasoning-budget.h)
    const bool budget = sp.reasoning_budget_tokens >= 0 && !sp.reasoning_budget_end.empty();
    return !budget && sp.temp <= 0.0f && sp.mirostat == 0 && common_grammar_value(sp.grammar).empty() && sp.logit_bias.empty() && !penalties && !dry && !xtc;
}

TokenProbs tokenProbs(llama_context * ctx, int idx, llama_token tok, int n, std::vector<llama_token> & ids) {
    const float * logits = llama_get_logits_ith(ctx, idx);
    if (!logits) throw HearthError(codes::internal, "llama.cpp returned no logits");
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
    // log-softmax: logprob(i) = logit(i) - max - log(sum(exp(logit - max)))
    float max = logits[0];
    for (int i = 1; i < n_vocab; i++) max = std::max(max, logits[i]);
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += std::exp((double) logits[i] - max);
    const double log_sum = std::log(sum);
    auto lp = [&](llama_token t) { return (float) std::min(0.0, (double) logits[t] - max - log_sum); };
    const int k = std::min(n, n_vocab);
    // the k likeliest: nth_element over the run's id buffer, then sort those k
    if ((int) ids.size() != n_vocab) ids.resize(n_vocab);
    std::iota(ids.begin(), ids.end(), 0);
    auto likelier = [&](llama_token a, llama_token b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    if (k > 0 && k < n_vocab) std::nth_element(ids.begin(), ids.begin() + (k - 1), ids.end(), likelier);
    std::sort(ids.begin(), ids.begin() + k, likelier);
    TokenProbs p;
    p.id = tok;
    p.text = common_token_to_piece(ctx, tok, true);
    p.logprob = lp(tok);
    for (int i = 0; i < k; i++) p.top.push_back({ids[i], common_token_to_piece(ctx, ids[i], true), lp(ids[i])});
    return p;
}

void recordProbs(Task & t, TokenProbs && p) {
    t.gen.probs.push_back(p);
    std::lock_guard<std::mutex> lock(t.out_mu);
    t.out_probs.push_back(std::move(p));
}

Napi::Array probsToJs(Napi::Env env, const std::vector<TokenProbs> & probs) {
    Napi::Array arr = Napi::Array::New(env, probs.size());
    for (size_t i = 0; i < probs.size(); i++) {
        const TokenProbs & p = probs[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("id", p.id);
        o.Set("text", p.text);
        o.Set("logprob", p.logprob);
        Napi::Array top = Napi::Array::New(env, p.top.size());
        for (size_t j = 0; j < p.top.size(); j++) {
            Napi::Object t = Napi::Object::New(env);
            t.Set("id", p.top[j].id);
            t.Set("text", p.top[j].text);
            t.Set("logprob", p.top[j].logprob);
            top.Set((uint32_t) j, t);
        }
        o.Set("top", top);
        arr.Set((uint32_t) i, o);
    }
    return arr;
}

static Napi::Value SamplerChain(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Model::constructor.Value())) {
        throw makeError(env, codes::invalid_argument, "samplerChain(model, sampling): model must be a Model");
    }
    std::shared_ptr<ModelHandle> h = Model::Unwrap(info[0].As<Napi::Object>())->requireHandle();
    LlamaUse use(LlamaUseKind::js); // a grammar that does not parse is logged (llama_gate.h)
    common_params_sampling sp = parseSampling(jsonOf(info.Length() > 1 ? info[1] : env.Undefined()));
    common_sampler_ptr s(buildSampler(h->model, sp, std::max(1, llama_model_n_ctx_train(h->model))));
    llama_sampler * chain = common_sampler_get(s.get());
    Napi::Array names = Napi::Array::New(env);
    for (int i = 0; i < llama_sampler_chain_n(chain); i++) names.Set((uint32_t) i, llama_sampler_name(llama_sampler_chain_get(chain, i)));
    return names;
}

static Napi::Value ArgmaxLogits(const Napi::CallbackInfo & info);
static Napi::Value FiniteLogits(const Napi::CallbackInfo & info);

void addSamplerExports(Napi::Env env, Napi::Object exports) {
    exports.Set("samplerChain", Napi::Function::New(env, guard<SamplerChain>));
    exports.Set("argmaxLogits", Napi::Function::New(env, guard<ArgmaxLogits>));
    exports.Set("finiteLogits", Napi::Function::New(env, guard<FiniteLogits>));
}

// Four floats at once, for argmaxLogits: SSE2 on x86-64, NEON on arm64 (none elsewhere: the plain loops)
#if defined(__SSE2__) || defined(_M_X64)
#define HEARTH_F4 1
using F4 = __m128;
static inline F4 f4Load(const float * p) { return _mm_loadu_ps(p); }
static inline F4 f4Fill(float x) { return _mm_set1_ps(x); }
static inline void f4Store(float * p, F4 v) { _mm_storeu_ps(p, v); }
// x > m ? x : m (MAXPS(a, b) is a > b ? a : b: a NaN x keeps m)
static inline F4 f4Above(F4 x, F4 m) { return _mm_max_ps(x, m); }
// whether any lane of a, b, c or d equals v's
static inline bool f4AnyEqual(F4 a, F4 b, F4 c, F4 d, F4 v) {
    return _mm_movemask_ps(_mm_or_ps(_mm_or_ps(_mm_cmpeq_ps(a, v), _mm_cmpeq_ps(b, v)), _mm_or_ps(_mm_cmpeq_ps(c, v), _mm_cmpeq_ps(d, v)))) != 0;
}
// lanes that are no logit (badLogit), gathered: bad | (x is NaN or +infinity); any lane set
using B4 = __m128;
static inline B4 b4None() { return _mm_setzero_ps(); }
static inline B4 b4Bad(B4 bad, F4 x) { return _mm_or_ps(bad, _mm_cmpnlt_ps(x, _mm_set1_ps(INFINITY))); }
static inline bool b4Any(B4 bad) { return _mm_movemask_ps(bad) != 0; }
// lanes above -infinity, gathered
static inline B4 b4Some(B4 some, F4 x) { return _mm_or_ps(some, _mm_cmpgt_ps(x, _mm_set1_ps(-INFINITY))); }
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define HEARTH_F4 1
using F4 = float32x4_t;
static inline F4 f4Load(const float * p) { return vld1q_f32(p); }
static inline F4 f4Fill(float x) { return vdupq_n_f32(x); }
static inline void f4Store(float * p, F4 v) { vst1q_f32(p, v); }
// x > m ? x : m (vmaxq_f32 would keep a NaN)
static inline F4 f4Above(F4 x, F4 m) { return vbslq_f32(vcgtq_f32(x, m), x, m); }
static inline bool f4AnyEqual(F4 a, F4 b, F4 c, F4 d, F4 v) {
    return vmaxvq_u32(vorrq_u32(vorrq_u32(vceqq_f32(a, v), vceqq_f32(b, v)), vorrq_u32(vceqq_f32(c, v), vceqq_f32(d, v)))) != 0;
}
using B4 = uint32x4_t;
static inline B4 b4None() { return vdupq_n_u32(0); }
static inline B4 b4Bad(B4 bad, F4 x) { return vorrq_u32(bad, vmvnq_u32(vcltq_f32(x, vdupq_n_f32(INFINITY)))); }
static inline bool b4Any(B4 bad) { return vmaxvq_u32(bad) != 0; }
static inline B4 b4Some(B4 some, F4 x) { return vorrq_u32(some, vcgtq_f32(x, vdupq_n_f32(-INFINITY))); }
#endif

// What no model's output may be: NaN, or +infinity (its softmax is NaN). Weights, a LoRA adapter or a
// control vector holding such values (or too large ones, or too strong) make every logit so.
static inline bool badLogit(float x) { return !(x < INFINITY); }

bool finiteLogits(const float * logits, int n) {
    int i = 0;
    bool some = false; // a logit above -infinity
#ifdef HEARTH_F4
    B4 bad = b4None(), above = b4None();
    for (; n - i >= 16; i += 16) {
        const F4 x0 = f4Load(logits + i), x1 = f4Load(logits + i + 4), x2 = f4Load(logits + i + 8), x3 = f4Load(logits + i + 12);
        bad = b4Bad(b4Bad(bad, x0), x1);
        bad = b4Bad(b4Bad(bad, x2), x3);
        above = b4Some(b4Some(above, x0), x1);
        above = b4Some(b4Some(above, x2), x3);
    }
    if (b4Any(bad)) return false;
    some = b4Any(above);
#endif
    for (; i < n; i++) {
        if (badLogit(logits[i])) return false;
        some = some || logits[i] > -INFINITY;
    }
    return some;
}

llama_token argmaxLogits(const float * logits, int n) {
    // once a token: on a fast model its cost shows. Four vectors of running maxima (and of lanes that
    // are no logit: finiteLogits in the same pass), then a search for the first 16-value block that holds
    // the maximum, then its index in that block. (GCC does not vectorize the plain loop: it keeps 16 scalars.)
    float max = -INFINITY;
    int i = 0;
#ifdef HEARTH_F4
    F4 m0 = f4Fill(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    B4 bad = b4None();
    for (; n - i >= 16; i += 16) {
        const F4 x0 = f4Load(logits + i), x1 = f4Load(logits + i + 4), x2 = f4Load(logits + i + 8), x3 = f4Load(logits + i + 12);
        m0 = f4Above(x0, m0);
        m1 = f4Above(x1, m1);
        m2 = f4Above(x2, m2);
        m3 = f4Above(x3, m3);
        bad = b4Bad(b4Bad(bad, x0), x1);
        bad = b4Bad(b4Bad(bad, x2), x3);
    }
    if (b4Any(bad)) return LLAMA_TOKEN_NULL;
    float lanes[16];
    f4Store(lanes, m0);
    f4Store(lanes + 4, m1);
    f4Store(lanes + 8, m2);
    f4Store(lanes + 12, m3);
    for (float v : lanes) max = v > max ? v : max;
#endif
    for (; i < n; i++) {
        if (badLogit(logits[i])) return LLAMA_TOKEN_NULL;
        max = logits[i] > max ? logits[i] : max;
    }
    int k = 0;
#ifdef HEARTH_F4
    const F4 mv = f4Fill(max);
    for (; n - k >= 16; k += 16) {
        if (f4AnyEqual(f4Load(logits + k), f4Load(logits + k + 4), f4Load(logits + k + 8), f4Load(logits + k + 12), mv)) break;
    }
#endif
    if (max == -INFINITY) return LLAMA_TOKEN_NULL; // every one -infinity: no token either
    for (; k < n; k++) {
        if (logits[k] == max) return k;
    }
    return LLAMA_TOKEN_NULL;
}

// The logits of output `idx` of the context's last decode, and their count.
static const float * logitsAt(llama_context * ctx, int idx, int & n_vocab) {
    const float * logits = llama_get_logits_ith(ctx, idx);
    if (!logits) throw HearthError(codes::internal, "llama.cpp returned no logits");
    n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
    return logits;
}

static HearthError nonFiniteLogits() {
    return HearthError(codes::decode_failed, "the model's output is not a number (NaN or infinite logits): a broken model file, or a LoRA adapter or control vector that is broken or too strong");
}

llama_token greedyToken(llama_context * ctx, int idx) {
    int n_vocab = 0;
    const float * logits = logitsAt(ctx, idx, n_vocab);
    const llama_token tok = argmaxLogits(logits, n_vocab);
    if (tok == LLAMA_TOKEN_NULL) throw nonFiniteLogits();
    return tok;
}

void refuseNonFinite(llama_context * ctx, int idx) {
    int n_vocab = 0;
    const float * logits = logitsAt(ctx, idx, n_vocab);
    if (!finiteLogits(logits, n_vocab)) throw nonFiniteLogits();
}

// The test hooks' one argument: a Float32Array of 1 to 2^24 values.
static Napi::Float32Array logitsArg(const Napi::CallbackInfo & info, const char * fn) {
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw HearthError(codes::invalid_argument, std::string(fn) + "(Float32Array)");
    }
    Napi::Float32Array a = info[0].As<Napi::Float32Array>();
    if (a.ElementLength() == 0 || a.ElementLength() > (size_t) (1 << 24)) throw HearthError(codes::invalid_argument, std::string(fn) + ": 1 to 2^24 values");
    return a;
}

static Napi::Value ArgmaxLogits(const Napi::CallbackInfo & info) {
    Napi::Float32Array a = logitsArg(info, "argmaxLogits");
    return Napi::Number::New(info.Env(), argmaxLogits(a.Data(), (int) a.ElementLength()));
}

static Napi::Value FiniteLogits(const Napi::CallbackInfo & info) {
    Napi::Float32Array a = logitsArg(info, "finiteLogits");
    return Napi::Boolean::New(info.Env(), finiteLogits(a.Data(), (int) a.ElementLength()));
}

} // namespace hearth
