#include "params.h"

#include <string>
#include <cmath>
#include <functional>

#include "limits.h"
#include "util.h"

namespace hearth {

namespace {

// A grammar starting with this is an llguidance (Lark) grammar, not GBNF (common/sampling.cpp)
const char * const LLGUIDANCE_PREFIX = "%llguidance";
const char * const LLGUIDANCE_REFUSAL = "grammar: llguidance grammars are not supported in this build";
// main/params/load.ts MAX_CHAT_TEMPLATE_CHARS
const size_t MAX_CHAT_TEMPLATE_CHARS = 200000;

[[noreturn]] void bad(const std::string & key, const std::string & why) {
    throw HearthError(codes::invalid_argument, key + " " + why);
}

std::string fmt(double d) {
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string((long long) d);
    std::string s = std::to_string(d);
    while (!s.empty() && s.back() == '0') s.pop_back();
    return s;
}

// One parameter: its key, how it is read into the family's struct (validated) and written back.
template <class S> struct Field {
    std::string key;
    std::function<void(S &, const common_json &)> read;
    std::function<common_json(const S &)> write;
};
template <class S> using Table = std::vector<Field<S>>;

double numberIn(const std::string & key, const common_json & v, double lo, double hi, bool integral, bool above = false) {
    if (!v.is_number()) bad(key, "must be a number");
    const double d = v.get<double>();
    if (integral && std::floor(d) != d) bad(key, "must be an integer");
    if ((above ? !(d > lo) : !(d >= lo)) || !(d <= hi)) bad(key, "must be " + std::string(above ? "above " : "at least ") + fmt(lo) + " and at most " + fmt(hi));
    return d;
}

template <class S, class T> Field<S> real(const char * key, T S::*m, double lo, double hi, bool above = false) {
    return {key, [=](S & s, const common_json & v) { s.*m = (T) numberIn(key, v, lo, hi, false, above); },
            [=](const S & s) { return common_json((double) (s.*m)); }};
}

template <class S, class T> Field<S> whole(const char * key, T S::*m, double lo, double hi) {
    return {key, [=](S & s, const common_json & v) { s.*m = (T) numberIn(key, v, lo, hi, true); },
            [=](const S & s) { return common_json((int64_t) (s.*m)); }};
}

template <class S> Field<S> flag(const char * key, bool S::*m) {
    return {key,
            [=](S & s, const common_json & v) {
                if (!v.is_boolean()) bad(key, "must be true or false");
                s.*m = v.get<bool>();
            },
            [=](const S & s) { return common_json(s.*m); }};
}

template <class S, class E> Field<S> oneOf(const char * key, E S::*m, std::vector<std::pair<std::string, E>> names) {
    return {key,
            [=](S & s, const common_json & v) {
                if (v.is_string()) {
                    for (const auto & n : names) {
                        if (n.first == v.get<std::string>()) { s.*m = n.second; return; }
                    }
                }
                std::string all;
                for (const auto & n : names) all += (all.empty() ? "" : ", ") + n.first;
                bad(key, "must be one of " + all);
            },
            [=](const S & s) {
                for (const auto & n : names) if (n.second == s.*m) return common_json(n.first);
                return common_json(nullptr);
            }};
}

template <class S> Field<S> texts(const char * key, std::vector<std::string> S::*m, size_t max_items, size_t max_len) {
    return {key,
            [=](S & s, const common_json & v) {
                if (!v.is_array() || v.size() > max_items) bad(key, "must be a list of at most " + std::to_string(max_items) + " strings");
                std::vector<std::string> out;
                for (const auto & e : v) {
                    if (!e.is_string()) bad(key, "must be a list of strings");
                    const std::string t = e.get<std::string>();
                    if (t.empty() || jsLength(t) > max_len) bad(key, "entries must be 1 to " + std::to_string(max_len) + " characters");
                    out.push_back(t);
                }
                s.*m = out;
            },
            [=](const S & s) { return common_json(s.*m); }};
}

// Reads every field of `t` that `o` has (null counts as absent) into `s`; records the keys it knows.
template <class S> void readTable(S & s, const Table<S> & t, const common_json & o, Keys * consumed, const char * what) {
    if (o.is_null()) return;
    if (!o.is_object()) throw HearthError(codes::invalid_argument, std::string(what) + " must be an object");
    for (const auto & f : t) {
        if (!o.contains(f.key)) continue;
        if (consumed) consumed->insert(f.key);
        const common_json & v = o.at(f.key);
        if (!v.is_null()) f.read(s, v);
    }
}

template <class S> common_json writeTable(const S & s, const Table<S> & t) {
    common_json o = common_json::object();
    for (const auto & f : t) o[f.key] = f.write(s);
    return o;
}

// ---- the families (keys, bounds and defaults as in main/params) -------------------------------------

using SP = common_params_sampling;
const Table<SP> & samplingTable() {
    static const Table<SP> t = {
        real("temperature", &SP::temp, 0, 5),
        whole("topK", &SP::top_k, 0, 1000),
        real("topP", &SP::top_p, 0, 1),
        real("minP", &SP::min_p, 0, 1),
        real("repeatPenalty", &SP::penalty_repeat, 0.01, 10),
        whole("seed", &SP::seed, 0, 4294967295.0),
        real("typicalP", &SP::typ_p, 0, 1),
        whole("repeatLastN", &SP::penalty_last_n, -1, 1 << 24),
        real("presencePenalty", &SP::penalty_present, -10, 10),
        real("frequencyPenalty", &SP::penalty_freq, -10, 10),
        real("dryMultiplier", &SP::dry_multiplier, 0, 10),
        real("dryBase", &SP::dry_base, 1, 10),
        whole("dryAllowedLength", &SP::dry_allowed_length, 0, 100),
        whole("dryPenaltyLastN", &SP::dry_penalty_last_n, -1, 1 << 24),
        texts("drySequenceBreakers", &SP::dry_sequence_breakers, 8, 20),
        real("xtcProbability", &SP::xtc_probability, 0, 1),
        real("xtcThreshold", &SP::xtc_threshold, 0, 1),
        whole("mirostat", &SP::mirostat, 0, 2),
        real("mirostatTau", &SP::mirostat_tau, 0, 20),
        real("mirostatEta", &SP::mirostat_eta, 0, 1),
        real("topNSigma", &SP::top_n_sigma, -1, 10),
        real("dynatempRange", &SP::dynatemp_range, 0, 5),
        real("dynatempExponent", &SP::dynatemp_exponent, 0, 10),
        whole("nProbs", &SP::n_probs, 0, 20),
        {"logitBias",
         [](SP & s, const common_json & v) {
             if (!v.is_array() || v.size() > 1024) bad("logitBias", "must be a list of at most 1024 { token, bias }");
             s.logit_bias.clear();
             for (const auto & e : v) {
                 if (!e.is_object() || e.size() != 2 || !e.contains("token") || !e.contains("bias")) bad("logitBias", "entries must be { token, bias }");
                 const int tok = (int) numberIn("logitBias token", e.at("token"), 0, 2147483647.0, true);
                 const double bias = numberIn("logitBias bias", e.at("bias"), -100, 100, false);
                 s.logit_bias.push_back({tok, (float) bias});
             }
         },
         [](const SP & s) {
             common_json a = common_json::array();
             for (const auto & b : s.logit_bias) a.push_back({{"token", b.token}, {"bias", (double) b.bias}});
             return a;
         }},
    };
    return t;
}

// as main/params/load.ts TENSOR_SPLIT_MAX: llama.cpp's sum of the proportions stays finite
constexpr double TENSOR_SPLIT_MAX = 1e6;

using LP = LoadParams;
const Table<LP> & loadTable() {
    static const Table<LP> t = {
        {"gpuLayers",
         [](LP & s, const common_json & v) {
             if (v.is_string() && (v.get<std::string>() == "auto" || v.get<std::string>() == "max")) {
                 s.gpu_auto = v.get<std::string>() == "auto";
                 s.gpu_max = !s.gpu_auto;
                 s.gpu_layers = -1;
                 return;
             }
             if (!v.is_number()) bad("gpuLayers", "must be an integer >= 0, \"max\" or \"auto\"");
             s.gpu_layers = (int32_t) numberIn("gpuLayers", v, 0, 100000, true);
             s.gpu_auto = s.gpu_max = false;
         },
         [](const LP & s) { return s.gpu_auto ? common_json("auto") : s.gpu_max ? common_json("max") : common_json(s.gpu_layers); }},
        flag("useMmap", &LP::use_mmap),
        flag("useMlock", &LP::use_mlock),
        whole("mainGpu", &LP::main_gpu, 0, 15),
        oneOf<LP, llama_split_mode>("splitMode", &LP::split_mode, {{"layer", LLAMA_SPLIT_MODE_LAYER}, {"none", LLAMA_SPLIT_MODE_NONE}}),
        {"tensorSplit",
         [](LP & s, const common_json & v) {
             // llama.cpp takes a proportion per device, at most llama_max_devices() of them
             if (!v.is_array() || v.size() > llama_max_devices()) bad("tensorSplit", "must be a list of at most " + std::to_string(llama_max_devices()) + " numbers");
             s.tensor_split.clear();
             for (const auto & e : v) s.tensor_split.push_back((float) numberIn("tensorSplit entries", e, 0, TENSOR_SPLIT_MAX, false));
         },
         [](const LP & s) { return s.tensor_split.empty() ? common_json(nullptr) : common_json(s.tensor_split); }},
        {"fitMarginMiB",
         [](LP & s, const common_json & v) {
             s.fit_margin_mib = numberIn("fitMarginMiB", v, 0, 1 << 20, true);
             s.fit_margin_given = true;
         },
         [](const LP & s) { return common_json(s.fit_margin_mib); }},
        flag("noAlloc", &LP::no_alloc),
        {"mmproj",
         [](LP & s, const common_json & v) {
             if (!v.is_string() || v.get<std::string>().empty() || jsLength(v.get<std::string>()) > 4096) bad("mmproj", "must be a path of 1 to 4096 characters");
             s.mmproj = v.get<std::string>();
         },
         [](const LP & s) { return s.mmproj.empty() ? common_json(nullptr) : common_json(s.mmproj); }},
        {"loraAdapters", [](LP & s, const common_json & v) { s.adapters.lora = parseAdapterList("loraAdapters", v); },
         [](const LP & s) { return adapterListJson(s.adapters.lora); }},
        {"controlVectors", [](LP & s, const common_json & v) { s.adapters.cvecs = parseAdapterList("controlVectors", v); },
         [](const LP & s) { return adapterListJson(s.adapters.cvecs); }},
        {"controlVectorLayerStart", [](LP & s, const common_json & v) { s.adapters.cvec_start = (int32_t) numberIn("controlVectorLayerStart", v, 1, 4096, true); },
         [](const LP & s) { return common_json(s.adapters.cvec_start); }},
        {"controlVectorLayerEnd", [](LP & s, const common_json & v) { s.adapters.cvec_end = (int32_t) numberIn("controlVectorLayerEnd", v, 0, 4096, true); },
         [](const LP & s) { return common_json(s.adapters.cvec_end); }},
        {"chatTemplate",
         [](LP & s, const common_json & v) {
             // "": the model's own template
             if (!v.is_string() || jsLength(v.get<std::string>()) > MAX_CHAT_TEMPLATE_CHARS) {
                 bad("chatTemplate", "must be a Jinja template of at most " + std::to_string(MAX_CHAT_TEMPLATE_CHARS) + " characters");
             }
             s.chat_template = v.get<std::string>();
         },
         [](const LP & s) { return s.chat_template.empty() ? common_json(nullptr) : common_json(s.chat_template); }},
        whole("nCpuMoe", &LP::n_cpu_moe, 0, MAX_CPU_MOE_LAYERS),
        {"tensorOverrides",
         [](LP & s, const common_json & v) {
             texts("tensorOverrides", &LP::tensor_overrides, 1024, 512).read(s, v);
             for (const auto & e : s.tensor_overrides) checkTensorOverride(e);
         },
         [](const LP & s) { return common_json(s.tensor_overrides); }},
        {"draftModel",
         [](LP & s, const common_json & v) {
             if (!v.is_string() || jsLength(v.get<std::string>()) > 4096) bad("draftModel", "must be a path of at most 4096 characters");
             s.draft_model = v.get<std::string>();
         },
         [](const LP & s) { return common_json(s.draft_model); }},
        oneOf<LP, std::string>("speculative", &LP::speculative,
                               {{"auto", "auto"}, {"off", "off"}, {"draft", "draft"}, {"ngram-simple", "ngram-simple"},
                                {"ngram-map-k", "ngram-map-k"}, {"ngram-map-k4v", "ngram-map-k4v"}, {"ngram-mod", "ngram-mod"}}),
        whole("draftMax", &LP::draft_max, 1, 256),
        whole("draftMin", &LP::draft_min, 0, 256),
        real("draftPMin", &LP::draft_p_min, 0, 1),
        whole("ngramSizeN", &LP::ngram_size_n, 1, 1024),
        whole("ngramSizeM", &LP::ngram_size_m, 1, 1024),
        whole("ngramMinHits", &LP::ngram_min_hits, 1, 1024),
        whole("ngramModMatch", &LP::ngram_mod_match, 1, 1024),
        whole("ngramModMax", &LP::ngram_mod_max, 0, 1024),
        whole("ngramModMin", &LP::ngram_mod_min, 0, 1024),
    };
    return t;
}

using CP = ContextParams;
const Table<CP> & contextTable() {
    // the machine's default (threads) and the model's (context) are not the table's: null
    auto optional = [](const char * key, uint32_t CP::*m, double lo, double hi, bool CP::*given) {
        return Field<CP>{key,
                         [=](CP & s, const common_json & v) {
                             s.*m = (uint32_t) numberIn(key, v, lo, hi, true);
                             if (given) s.*given = true;
                         },
                         [=](const CP & s) { return (given ? s.*given : s.*m != 0) ? common_json((int64_t) (s.*m)) : common_json(nullptr); }};
    };
    static const std::vector<std::pair<std::string, ggml_type>> cache_types = {
        {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16}, {"q8_0", GGML_TYPE_Q8_0}, {"q4_0", GGML_TYPE_Q4_0},
        {"q4_1", GGML_TYPE_Q4_1}, {"iq4_nl", GGML_TYPE_IQ4_NL}, {"q5_0", GGML_TYPE_Q5_0}, {"q5_1", GGML_TYPE_Q5_1},
    };
    static const Table<CP> t = {
        optional("contextSize", &CP::context_size, 0, 1 << 24, &CP::context_given),
        oneOf<CP, ggml_type>("cacheTypeK", &CP::type_k, cache_types),
        oneOf<CP, ggml_type>("cacheTypeV", &CP::type_v, cache_types),
        oneOf<CP, llama_flash_attn_type>("flashAttention", &CP::flash_attention,
                                         {{"auto", LLAMA_FLASH_ATTN_TYPE_AUTO}, {"on", LLAMA_FLASH_ATTN_TYPE_ENABLED}, {"off", LLAMA_FLASH_ATTN_TYPE_DISABLED}}),
        optional("threads", &CP::threads, 1, 1024, nullptr),
        whole("batchSize", &CP::batch, 1, 1 << 20),
        whole("ubatchSize", &CP::ubatch, 1, 1 << 20),
        optional("threadsBatch", &CP::threads_batch, 1, 1024, nullptr),
        whole("parallel", &CP::parallel, 1, 64),
        flag("embeddings", &CP::embeddings),
        flag("swaFull", &CP::swa_full),
    };
    return t;
}

using RP = RequestParams;
const Table<RP> & requestTable() {
    static const Table<RP> t = {
        whole("maxTokens", &RP::max_tokens, -1, 10000000),
        texts("stop", &RP::stop, 16, 1000),
        oneOf<RP, std::string>("overflow", &RP::overflow, {{"error", "error"}, {"truncateMiddle", "truncateMiddle"}, {"shift", "shift"}}),
        {"jsonSchema", [](RP & s, const common_json & v) { s.json_schema = v; }, [](const RP & s) { return s.json_schema; }},
        {"grammar",
         [](RP & s, const common_json & v) {
             if (!v.is_string()) bad("grammar", "must be a string");
             // common_sampler_init aborts the process on this prefix unless llama.cpp was built with
             // LLAMA_LLGUIDANCE (ours is not); main/params/chat.ts refuses it with the same words
             if (v.get<std::string>().rfind(LLGUIDANCE_PREFIX, 0) == 0) throw HearthError(codes::invalid_argument, LLGUIDANCE_REFUSAL);
             s.grammar = v.get<std::string>();
         },
         [](const RP & s) { return s.grammar.empty() ? common_json(nullptr) : common_json(s.grammar); }},
        flag("ignoreEos", &RP::ignore_eos),
        flag("dataMarks", &RP::data_marks), // read where a chat is rendered (chat_render.cpp)
        whole("seq", &RP::seq, 0, 255),
        {"loraAdapters",
         [](RP & s, const common_json & v) {
             s.lora = parseAdapterList("loraAdapters", v);
             s.lora_given = true;
         },
         [](const RP & s) { return s.lora_given ? adapterListJson(s.lora) : common_json(nullptr); }},
        {"nKeep",
         [](RP & s, const common_json & v) {
             s.n_keep = (int) numberIn("nKeep", v, -1, 1 << 24, true);
             s.n_keep_given = true;
         },
         [](const RP & s) { return s.n_keep_given ? common_json(s.n_keep) : common_json(nullptr); }},
        whole("reasoningBudget", &RP::reasoning_budget, -1, 10000000),
        flag("preserveReasoning", &RP::preserve_reasoning), // read where a chat is rendered (chat_render.cpp)
        {"reasoningEffort",
         [](RP & s, const common_json & v) {
             static const char * const efforts[] = {"low", "medium", "high"};
             for (const char * e : efforts) {
                 if (v.is_string() && v.get<std::string>() == e) { s.reasoning_effort = e; return; }
             }
             bad("reasoningEffort", "must be one of low, medium, high");
         },
         [](const RP & s) { return s.reasoning_effort.empty() ? common_json(nullptr) : common_json(s.reasoning_effort); }},
    };
    return t;
}

bool quantized(ggml_type t) {
    return t != GGML_TYPE_F32 && t != GGML_TYPE_F16 && t != GGML_TYPE_BF16;
}

} // namespace

// ---- parsing -------------------------------------------------------------------------------------------

common_params_sampling parseSampling(const common_json & o) {
    common_params_sampling sp;
    Keys keys;
    readTable(sp, samplingTable(), o, &keys, "sampling");
    if (o.is_object()) rejectUnknown(o, keys, "sampling");
    return sp;
}

LoadParams parseLoad(const common_json & o, Keys * consumed) {
    LoadParams p;
    readTable(p, loadTable(), o, consumed, "load parameters");
    // llama.cpp's fit places the experts itself and refuses overrides it did not write (common/fit.cpp)
    if (p.gpu_auto && (p.n_cpu_moe > 0 || !p.tensor_overrides.empty())) {
        throw HearthError(codes::invalid_argument, p.n_cpu_moe > 0 ? "nCpuMoe needs gpuLayers set to a number or \"max\": with \"auto\" llama.cpp's fit places the experts itself"
                                                                   : "tensorOverrides needs gpuLayers set to a number or \"max\": with \"auto\" llama.cpp's fit places the tensors itself");
    }
    // main/params/load.ts LOAD_RULES: drafting with a draft model needs one
    if (p.speculative == "draft" && p.draft_model.empty()) {
        throw HearthError(codes::invalid_argument, "speculative is \"draft\" but no draftModel is set: give a draft model (a smaller model with the same vocabulary), or set speculative to \"auto\"");
    }
    return p;
}

ContextParams parseContextFamily(const common_json & o, Keys * consumed) {
    ContextParams c;
    readTable(c, contextTable(), o, consumed, "context parameters");
    if (c.ubatch > c.batch) throw HearthError(codes::invalid_argument, "ubatchSize must not exceed batchSize");
    if (quantized(c.type_v) && c.flash_attention == LLAMA_FLASH_ATTN_TYPE_DISABLED) {
        throw HearthError(codes::invalid_argument, "a quantized V cache (cacheTypeV) needs flash attention (auto or on)");
    }
    return c;
}

llama_context_params contextParams(const ContextParams & c, const llama_model * model) {
    llama_context_params cp = llama_context_default_params();
    // absent: llama.cpp's default (the engine host always sends one: main/params defaultContextSize)
    if (c.context_given) cp.n_ctx = c.context_size;
    cp.n_batch = c.batch;
    cp.n_ubatch = c.ubatch;
    cp.n_threads = c.threads ? (int32_t) c.threads : defaultThreads();
    cp.n_threads_batch = c.threads_batch ? (int32_t) c.threads_batch : cp.n_threads;
    cp.n_seq_max = c.parallel;
    cp.flash_attn_type = c.flash_attention;
    cp.type_k = c.type_k;
    cp.type_v = c.type_v;
    cp.embeddings = c.embeddings;
    // llama.cpp's default keeps the whole context for sliding-window layers too (Gemma, gpt-oss): only
    // the window is needed to generate; a full cache only lets a conversation be rolled back further
    cp.swa_full = c.swa_full;
    // parallel slots share one KV buffer, so one long conversation can use the whole context; a single
    // sequence needs no sharing, and a unified cache makes llama.cpp check every batch against all 256
    // possible sequences (a 256 x 256 loop per decode)
    cp.kv_unified = cp.n_seq_max > 1;
    cp.no_perf = false;
    applyContextLimits(cp, model);
    return cp;
}

llama_context_params parseContext(const common_json & o, const llama_model * model, Keys * consumed) {
    return contextParams(parseContextFamily(o, consumed), model);
}

RequestParams parseRequest(const common_json & req, Keys * consumed) {
    RequestParams r;
    readTable(r, requestTable(), req, consumed, "request");
    return r;
}

void rejectUnknown(const common_json & o, const Keys & consumed, const char * what) {
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!consumed.count(it.key())) throw HearthError(codes::invalid_argument, std::string(what) + ": unknown parameter " + it.key());
    }
}

common_json jsonOf(const Napi::Value & v) {
    if (v.IsNull() || v.IsUndefined()) return nullptr;
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
    if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue();
    if (v.IsString()) return v.As<Napi::String>().Utf8Value();
    if (v.IsArray()) {
        Napi::Array a = v.As<Napi::Array>();
        common_json out = common_json::array();
        for (uint32_t i = 0; i < a.Length(); i++) out.push_back(jsonOf(a.Get(i)));
        return out;
    }
    if (v.IsObject() && !v.IsFunction()) {
        Napi::Object o = v.As<Napi::Object>();
        Napi::Array names = o.GetPropertyNames();
        common_json out = common_json::object();
        for (uint32_t i = 0; i < names.Length(); i++) {
            Napi::Value key = names.Get(i);
            Napi::Value val = o.Get(key);
            if (!val.IsUndefined()) out[key.ToString().Utf8Value()] = jsonOf(val);
        }
        return out;
    }
    throw HearthError(codes::invalid_argument, "parameters must be plain JSON values");
}

EngineParams parseEngineParams(const Napi::Value & v) {
    const common_json o = jsonOf(v);
    if (!o.is_null() && !o.is_object()) throw HearthError(codes::invalid_argument, "load parameters must be an object");
    EngineParams p;
    Keys keys;
    p.load = parseLoad(o, &keys);
    p.context = parseContextFamily(o, &keys);
    if (o.is_object()) rejectUnknown(o, keys, "load parameters");
    return p;
}

// ---- describeParams() and echoParams(family, params) ------------------------------------------------------

static Napi::Value toJs(Napi::Env env, const common_json & j) {
    return env.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>().Call({Napi::String::New(env, j.dump())});
}

static Napi::Value DescribeParams(const Napi::CallbackInfo & info) {
    common_json o = {
        {"sampling", writeTable(common_params_sampling(), samplingTable())},
        {"load", writeTable(LoadParams(), loadTable())},
        {"context", writeTable(ContextParams(), contextTable())},
        {"request", writeTable(RequestParams(), requestTable())},
    };
    return toJs(info.Env(), o);
}

static Napi::Value EchoParams(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString()) throw HearthError(codes::invalid_argument, "echoParams(family, params)");
    try {
        const std::string family = info[0].As<Napi::String>().Utf8Value();
        const common_json o = jsonOf(info[1]);
        Keys keys;
        common_json out;
        if (family == "sampling") out = writeTable(parseSampling(o), samplingTable());
        else if (family == "load") out = writeTable(parseLoad(o, &keys), loadTable());
        else if (family == "context") out = writeTable(parseContextFamily(o, &keys), contextTable());
        else if (family == "request") out = writeTable(parseRequest(o, &keys), requestTable());
        else throw HearthError(codes::invalid_argument, "unknown family " + family);
        if (family != "sampling" && o.is_object()) rejectUnknown(o, keys, family.c_str());
        return toJs(env, out);
    } catch (const common_json_error & e) { // a field of the wrong type
        throw HearthError(codes::invalid_argument, e.what());
    }
}

static Napi::Value DefaultThreads(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), defaultThreads());
}

// ngramKindDefaults() -> { "ngram-simple": {sizeN, sizeM, minHits}, …, "ngram-mod": {match, max, min} }:
// llama.cpp's own defaults for each n-gram kind (common_params_speculative), which one setting each
// stands for (LoadParams::speculativeParams); the drift test holds them to main/params' defaults
static Napi::Value NgramKindDefaults(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const common_params_speculative d;
    Napi::Object o = Napi::Object::New(env);
    const std::pair<const char *, const common_params_speculative_ngram_map *> maps[] = {
        {"ngram-simple", &d.ngram_simple}, {"ngram-map-k", &d.ngram_map_k}, {"ngram-map-k4v", &d.ngram_map_k4v}};
    for (const auto & [name, m] : maps) {
        Napi::Object k = Napi::Object::New(env);
        k.Set("sizeN", (double) m->size_n);
        k.Set("sizeM", (double) m->size_m);
        k.Set("minHits", (double) m->min_hits);
        o.Set(name, k);
    }
    Napi::Object mod = Napi::Object::New(env);
    mod.Set("match", (double) d.ngram_mod.n_match);
    mod.Set("max", (double) d.ngram_mod.n_max);
    mod.Set("min", (double) d.ngram_mod.n_min);
    o.Set("ngram-mod", mod);
    return o;
}

void addParamsExports(Napi::Env env, Napi::Object exports) {
    exports.Set("ngramKindDefaults", Napi::Function::New(env, guard<NgramKindDefaults>));
    exports.Set("describeParams", Napi::Function::New(env, guard<DescribeParams>));
    exports.Set("echoParams", Napi::Function::New(env, guard<EchoParams>));
    exports.Set("defaultThreads", Napi::Function::New(env, guard<DefaultThreads>));
}

} // namespace hearth
