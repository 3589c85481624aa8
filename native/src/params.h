// The parameter families (main/params in TypeScript defines them: keys, bounds, defaults, labels),
// each parsed into one struct by one function. Every family is a table of fields (params.cpp): a
// key, its bounds and the member it sets. Unknown keys are refused, so a key the TypeScript side
// declares and this side does not read fails loudly (test/engine/params-drift.test.ts feeds both).
#pragma once

#include <napi.h>

#include <set>
#include <string>
#include <vector>

#include "adapters.h"
#include "common.h"
#include "json.h"
#include "llama.h"
#include "tensor_overrides.h"

namespace hearth {

using Keys = std::set<std::string>;

// The sampling family: llama.cpp's own struct with its defaults. repeatLastN and dryPenaltyLastN
// keep -1 ("the whole context"); buildSampler (sampler.h) resolves them for the context.
common_params_sampling parseSampling(const common_json & o);

// The model load family (what llama.cpp gets of it, its member functions: load_params.cpp).
struct LoadParams {
    bool gpu_auto = true;      // gpuLayers "auto": with fitMarginMiB given, fit to the devices' memory before loading
    bool gpu_max = false;      // gpuLayers "max"
    int32_t gpu_layers = -1;   // a count (when neither auto nor max)
    bool use_mmap = true;
    bool use_mlock = false;
    int32_t main_gpu = 0;
    llama_split_mode split_mode = LLAMA_SPLIT_MODE_LAYER;
    std::vector<float> tensor_split; // empty: by free memory
    double fit_margin_mib = 1024;
    bool fit_margin_given = false;
    bool no_alloc = false;
    std::string mmproj; // the projector for images (vision.h); empty: none
    AdapterParams adapters; // applied to the context (adapters.h), not to the model's load
    std::string chat_template; // a Jinja chat template used instead of the model's own (empty: the model's)
    int32_t n_cpu_moe = 0;                       // the experts of the first N layers on the CPU
    std::vector<std::string> tensor_overrides;   // "pattern=buffer type", checked (tensor_overrides.h)
    // speculative decoding (speculative.cpp): a draft model's file ("" none), the kind of drafting
    // ("auto": the draft model when one is given, else none; "off"; "draft"; llama.cpp's n-gram kinds),
    // and the draft model's bounds, with llama.cpp's defaults (common_params_speculative_draft, as
    // llama-server's --spec-draft-n-max, -n-min and -p-min; the n-gram kinds keep their own limits)
    std::string draft_model;
    std::string speculative = "auto";
    int32_t draft_max = common_params_speculative_draft{}.n_max, draft_min = common_params_speculative_draft{}.n_min;
    float draft_p_min = common_params_speculative_draft{}.p_min;
    // the n-gram kinds' own limits, with llama.cpp's defaults (as llama-server's --spec-ngram-* flags; the
    // drift test checks that each kind's default in common_params_speculative is these: ngramKindDefaults):
    // the n-gram lookup's and maps' (ngram-simple, -map-k and -map-k4v alike: common_params_speculative_ngram_map)
    // lookup length, draft length and hits before a draft (read by ngram-map-k4v only), and ngram-mod's
    // lookup length and draft bounds
    int32_t ngram_size_n = common_params_speculative_ngram_map{}.size_n, ngram_size_m = common_params_speculative_ngram_map{}.size_m,
            ngram_min_hits = common_params_speculative_ngram_map{}.min_hits;
    int32_t ngram_mod_match = common_params_speculative_ngram_mod{}.n_match, ngram_mod_max = common_params_speculative_ngram_mod{}.n_max,
            ngram_mod_min = common_params_speculative_ngram_mod{}.n_min;

    // llama.cpp's speculative parameters for these settings (the kind and the contexts are the caller's)
    common_params_speculative speculativeParams() const;

    // the kind of drafting these settings ask for: "none", "draft" or an n-gram kind (llama.cpp's names)
    std::string speculativeKind() const;
    // the draft model's parameters: all its layers where the target has any on a GPU, split over the GPUs
    // as the target's (its split mode, main GPU and `target_split`, the target's tensor_split: llama.cpp's
    // common_base_params_to_speculative keeps them), so both are on the same devices
    llama_model_params draftModel(const float * target_split) const;

    // llama.cpp's model parameters (the tensor split and the overrides are the caller's: they must
    // outlive the load; model() leaves both unset)
    llama_model_params model() const;
    // nCpuMoe and tensorOverrides as llama.cpp's list, or null
    std::shared_ptr<const TensorOverrides> overrides() const;
    // tensor_split padded to llama_max_devices(), or empty
    std::vector<float> split() const;
};
LoadParams parseLoad(const common_json & o, Keys * consumed = nullptr);

// The context family.
struct ContextParams {
    uint32_t context_size = 0; bool context_given = false; // default: min(4096, the model's trained context)
    uint32_t batch = 2048, ubatch = 512;
    uint32_t threads = 0, threads_batch = 0;                // 0: defaultThreads() (threads_batch: threads)
    uint32_t parallel = 1;
    llama_flash_attn_type flash_attention = LLAMA_FLASH_ATTN_TYPE_AUTO;
    ggml_type type_k = GGML_TYPE_F16, type_v = GGML_TYPE_F16;
    bool embeddings = false;
    bool swa_full = false; // a full-size cache for sliding-window layers (llama.cpp's default is true)
};
ContextParams parseContextFamily(const common_json & o, Keys * consumed = nullptr);

// The threads a context gets when none are asked for: llama.cpp's common_cpu_get_num_math (the
// physical performance cores), read once per process. The addon's defaultThreads() reports it, and the
// app shows it as the threads setting's default (main/hardware: cpu.defaultThreads).
int32_t defaultThreads(); // cpu_threads.cpp

// llama.cpp's context parameters, with the combinations it asserts on resolved or refused (limits.h).
// model may be null (estimates, fitting): then only the sizes given are checked.
llama_context_params contextParams(const ContextParams & c, const llama_model * model);
llama_context_params parseContext(const common_json & o, const llama_model * model, Keys * consumed = nullptr);

// The request family: how one generation runs (input and sampling are the request's other keys).
struct RequestParams {
    int64_t max_tokens = -1;
    std::vector<std::string> stop;
    std::string overflow = "error";
    common_json json_schema;  // null: none
    std::string grammar;      // empty: none
    bool ignore_eos = false;
    bool data_marks = false; // message text between U+FDD0 and U+FDD1 is data (data_text.h)
    int seq = 0;
    std::vector<AdapterEntry> lora; bool lora_given = false; // this request's LoRA scales (adapters.h)
    // leading tokens a context shift keeps: -1 all of the prompt; absent (n_keep_given false): the
    // system prompt of a chat, else BOS
    int n_keep = 0; bool n_keep_given = false;
    int reasoning_budget = -1;      // tokens of reasoning before the end tag is forced (-1: unlimited)
    std::string reasoning_effort;   // chat_template_kwargs.reasoning_effort (empty: none)
    // chat_template_kwargs.preserve_reasoning, as llama-server's --reasoning-preserve (its default, on):
    // templates that can keep earlier turns' reasoning keep it (llama.cpp's jinja caps set their flags)
    bool preserve_reasoning = true;
};
RequestParams parseRequest(const common_json & req, Keys * consumed = nullptr);

// Refuses a key of `o` that is in no `consumed` set: an unknown parameter.
void rejectUnknown(const common_json & o, const Keys & consumed, const char * what);

// A JS value as JSON (undefined members are left out, as JSON.stringify does).
common_json jsonOf(const Napi::Value & v);

// Load + context parameters from one JS object (what loadModel, createContext, estimateMemory and
// fitParams take), unknown keys refused.
struct EngineParams {
    LoadParams load;
    ContextParams context;
};
EngineParams parseEngineParams(const Napi::Value & v);

// describeParams() and echoParams(family, params): the families' keys and defaults, and a family
// as parsed (for the drift test); defaultThreads(): the threads a context gets when none are asked for.
void addParamsExports(Napi::Env env, Napi::Object exports);

} // namespace hearth
