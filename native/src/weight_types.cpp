#include "weight_types.h"
#include "util.h"

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "gguf.h"
#include "llama.h"
#include "llama-cpp.h" // llama_model_ptr
#include "activity.h"
#include "../src/llama-arch.h"  // llm_arch_from_string
#include "../src/llama-model.h" // llama_model_create: an empty model of an architecture

namespace hearth {

bool computableType(ggml_type t) {
    if (t < 0 || t >= GGML_TYPE_COUNT) return false;
    return t == GGML_TYPE_F32 || ggml_get_type_traits(t)->to_float != nullptr;
}

// The tensors llama.cpp's graph takes in one type only, by name (a name starting with '.' is a suffix,
// else the whole name):
// - index tables it reads as integers: a speculative head's map of its vocabulary to the target's
//   (src/models/eagle3.cpp and dflash.cpp assert I64), DeepSeek V4's token-to-expert table (deepseek4.cpp:
//   get_rows of an I32 table);
// - weights its F32-only operations take, which the converter writes F32 and the quantizer leaves alone
//   (convert_hf_to_gguf's list of tensors "always in float32", src/llama-quant.cpp): BERT's token types
//   (added to the activations as a row), the convolution kernels of state-space and short-convolution
//   layers (ggml_ssm_conv: Mamba, Jamba, Falcon-H1, Qwen3-Next, Kimi Linear, LFM2), and the state-space
//   layers' A and D (ggml_ssm_scan, or multiplied into the activations; names without ".weight", which the
//   converter writes F32 and the quantizer never touches).
struct FixedTypeTensor {
    const char * name;
    ggml_type type;
};
static const FixedTypeTensor FIXED_TYPE_TENSORS[] = {
    {"d2t", GGML_TYPE_I64},
    {".ffn_gate_tid2eid.weight", GGML_TYPE_I32},
    {"token_types.weight", GGML_TYPE_F32},
    {".ssm_conv1d.weight", GGML_TYPE_F32},
    {".ssm_conv1d_q.weight", GGML_TYPE_F32},
    {".ssm_conv1d_k.weight", GGML_TYPE_F32},
    {".ssm_conv1d_v.weight", GGML_TYPE_F32},
    {".shortconv.conv.weight", GGML_TYPE_F32},
    {".ssm_a", GGML_TYPE_F32},
    {".ssm_d", GGML_TYPE_F32},
};

static const FixedTypeTensor * fixedTypeTensor(const std::string & name) {
    for (const FixedTypeTensor & it : FIXED_TYPE_TENSORS) {
        const std::string n = it.name;
        if (n[0] == '.' ? name.size() > n.size() && name.compare(name.size() - n.size(), n.size(), n) == 0 : name == n) return &it;
    }
    return nullptr;
}

// A weight added or multiplied element-wise into F32 activations: a norm's scale or a bias (a vector).
// llama.cpp's converters write these F32 (every 1-D array, and every `_norm.weight`); the CPU computes them
// only as F32. (A vector by its shape alone is not one: a reranker's one-label classifier, [n_embd, 1],
// is a matrix the converter writes F16 and llama.cpp multiplies.)
static bool elementwise(const std::string & name, const ggml_tensor * t) {
    if (ggml_n_dims(t) != 1) return false;
    const auto ends = [&](const char * s) {
        const size_t n = std::strlen(s);
        return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
    };
    return ends(".bias") || name.find("norm") != std::string::npos;
}

// What one file's header says: its problem, its split.count (1 when it has none), its general.architecture.
struct FileFacts {
    std::string why;
    int count = 1;
    std::string arch;
    bool read = false; // the header was read (one that could not be is not remembered: the failure may pass)
};

static FileFacts readFacts(const std::string & path) {
    FileFacts f;
    ggml_context * meta = nullptr; // the tensors' shapes, made in the header's order
    gguf_init_params gp = {/* .no_alloc = */ true, /* .ctx = */ &meta};
    gguf_context * g = gguf_init_from_file(path.c_str(), gp);
    if (!g) return f;
    f.read = true;
    std::string & why = f.why;
    const int64_t n = gguf_get_n_tensors(g);
    ggml_tensor * cur = ggml_get_first_tensor(meta);
    for (int64_t i = 0; i < n && cur && why.empty(); i++, cur = ggml_get_next_tensor(meta, cur)) {
        const std::string name = gguf_get_tensor_name(g, i);
        const ggml_type t = gguf_get_tensor_type(g, i);
        const FixedTypeTensor * it = fixedTypeTensor(name);
        const bool vector = elementwise(name, cur);
        const bool ok = it ? t == it->type : vector ? t == GGML_TYPE_F32 : computableType(t);
        if (!ok) {
            why = "its tensor " + name + " is of type " + ggml_type_name(t) +
                  (it ? std::string(", but llama.cpp computes with it only as ") + ggml_type_name(it->type)
                      : std::string(", which llama.cpp cannot compute with") + (vector ? " (a norm or bias takes f32)" : ""));
        }
    }
    const int64_t k = gguf_find_key(g, "split.count");
    if (k >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_UINT16) f.count = gguf_get_val_u16(g, k);
    const int64_t a = gguf_find_key(g, "general.architecture");
    if (a >= 0 && gguf_get_kv_type(g, a) == GGUF_TYPE_STRING) f.arch = gguf_get_val_str(g, a);
    gguf_free(g);
    ggml_free(meta);
    return f;
}

// The facts of a file, from the header read the last time it had the same identity (fileIdentity): the
// estimate runs as the settings' sliders move, and a header with a large vocabulary takes a while to read.
static FileFacts fileFacts(const std::string & path) {
    static std::mutex mu;
    static std::unordered_map<std::string, FileFacts> known;
    const std::string id = fileIdentity(path);
    if (id.empty()) return readFacts(path);
    {
        std::lock_guard<std::mutex> lock(mu);
        const auto it = known.find(id);
        if (it != known.end()) return it->second;
    }
    FileFacts f = readFacts(path);
    // kept only if the file read is the one keyed (by name, another may have been put in its place meanwhile)
    if (!f.read || fileIdentity(path) != id) return f;
    std::lock_guard<std::mutex> lock(mu);
    if (known.size() >= 256) known.clear(); // bounded: a few hundred model files at most
    known.emplace(id, f);
    return f;
}

static std::string fileProblem(const std::string & path, int & count, std::string * arch = nullptr) {
    FileFacts f = fileFacts(path);
    count = f.count;
    if (arch) *arch = f.arch;
    return f.why;
}

std::string weightTypeProblem(const std::string & path, std::string * arch) {
    int count = 1;
    std::string why = fileProblem(path, count, arch);
    if (!why.empty() || count <= 1) return why;
    // the other parts, named as llama.cpp names them from the first (llama-model-loader.cpp llama_get_list_splits)
    std::vector<char> buf(4096 + 64, 0);
    const int32_t n = llama_split_prefix(buf.data(), buf.size(), path.c_str(), 0, count);
    if (n <= 0 || (size_t) n >= buf.size()) return ""; // llama.cpp refuses the name itself (or it is too long)
    const std::string prefix(buf.data(), (size_t) n);
    for (int i = 1; i < count && why.empty(); i++) {
        const int32_t m = llama_split_path(buf.data(), buf.size(), prefix.c_str(), i, count);
        int ignored = 1;
        if (m > 0 && (size_t) m < buf.size()) why = fileProblem(std::string(buf.data(), (size_t) m), ignored);
        if (!why.empty()) why = "its part " + std::to_string(i + 1) + " of " + std::to_string(count) + ": " + why;
    }
    return why;
}

// Whether a model of architecture `arch` has an encoder and a decoder: llama.cpp's own answer
// (llama_model_has_encoder and _decoder) for a model object of that architecture made empty, nothing
// read. An encoder alone (T5's encoder) is an embedder, which the engine runs as one.
static bool encoderDecoder(const std::string & arch) {
    const llm_arch a = llm_arch_from_string(arch);
    if (a == LLM_ARCH_UNKNOWN) return false; // llama.cpp's load refuses it, saying so
    llama_model_ptr m(llama_model_create(a, llama_model_default_params()));
    return m && llama_model_has_encoder(m.get()) && llama_model_has_decoder(m.get());
}

void refuseUncomputable(const std::string & path, const std::string & what, bool model, bool weights) {
    if (path.empty()) return;
    std::string arch;
    const std::string why = weightTypeProblem(path, &arch);
    // a large header read: not a stall (the host's watchdog: activity.h), and not a load's first progress
    // either, which would end the time it has to read its file (llama.cpp has read none of it yet)
    if (Activity * a = Activity::current()) a->excuse();
    if (weights && !why.empty()) throw HearthError(codes::load_failed, what + " cannot be run: " + why);
    if (model && encoderDecoder(arch)) {
        throw HearthError(codes::not_supported, what + " has an encoder (an encoder-decoder model such as T5, or a speculative head such as EAGLE-3): Hearth runs decoder-only models, and encoder-only ones for embeddings");
    }
}

} // namespace hearth
