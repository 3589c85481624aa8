#include "adapters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sys/stat.h>
#include <unordered_map>

#include "errors.h"
#include "ggml-cpp.h" // ggml_context_ptr
#include "ggml.h"
#include "gguf.h"
#include "llama-cpp.h" // llama_model_ptr
#include "util.h"
#include "weight_types.h"
#include "../src/llama-adapter.h" // llama_adapter_lora's buffers (ContextAdapters::memory)
#include "../src/llama-model.h"   // llama_model::get_tensor and select_buft: where an adapter's tensors go (loraMemory, cvecMemory)

namespace hearth {

namespace {

// as main/params/adapters.ts
constexpr size_t MAX_ADAPTERS = 8;
constexpr size_t MAX_ADAPTER_PATH = 4096;
constexpr double ADAPTER_SCALE_MAX = 10;

[[noreturn]] void bad(const std::string & key, const std::string & why) {
    throw HearthError(codes::invalid_argument, key + " " + why);
}

bool isFile(const std::string & path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Why llama.cpp must not read a control vector file for a model n_embd wide with n_layer layers (empty:
// it may). common_control_vector_load trusts each direction.<layer>'s number: it sizes and indexes its
// buffer by n_embd * layer in 32-bit ints, so a large one writes outside it (or zero-fills gigabytes).
// Here, from the header alone: every tensor is direction.<1..n_layer>, F32, one vector n_embd wide.
std::string cvecProblem(const std::string & path, int64_t n_embd, int64_t n_layer) {
    ggml_context * meta = nullptr;
    gguf_init_params gp = {/* .no_alloc = */ true, /* .ctx = */ &meta};
    gguf_context * g = gguf_init_from_file(path.c_str(), gp);
    if (!g) return "it is not a GGUF file llama.cpp can read";
    std::string why;
    const int64_t n = gguf_get_n_tensors(g);
    if (n == 0) why = "it holds no vectors"; // common_control_vector_load refuses it
    for (int64_t i = 0; i < n && why.empty(); i++) {
        const std::string name = gguf_get_tensor_name(g, i);
        const std::string num = name.rfind("direction.", 0) == 0 ? name.substr(10) : "";
        bool digits = !num.empty() && num.size() <= 9;
        for (char c : num) digits = digits && std::isdigit((unsigned char) c);
        const long layer = digits ? std::stol(num) : 0;
        const ggml_tensor * t = ggml_get_tensor(meta, name.c_str());
        if (!digits) why = "its tensor " + name + " is not named direction.<layer>";
        else if (layer < 1 || layer > n_layer) why = "its tensor " + name + " is for layer " + num + "; the model's layers are 1 to " + std::to_string(n_layer);
        else if (!t || t->type != GGML_TYPE_F32 || ggml_n_dims(t) != 1) why = "its tensor " + name + " is not one F32 vector";
        else if (t->ne[0] != n_embd) why = "its vectors are " + std::to_string(t->ne[0]) + " wide, the model's layers " + std::to_string(n_embd);
    }
    gguf_free(g);
    ggml_free(meta);
    return why;
}

// The device a buffer type's memory is on: system RAM's (the CPU's device) for a host buffer type.
ggml_backend_dev_t deviceOf(ggml_backend_buffer_type_t buft) {
    ggml_backend_dev_t dev = ggml_backend_buft_is_host(buft) ? nullptr : ggml_backend_buft_get_device(buft);
    return dev ? dev : ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
}

// The CPU's extra buffer types (for repacked weights): llama_adapter_lora_init puts an adapter of a tensor
// in one of them on the CPU's own buffer type instead.
std::vector<ggml_backend_buffer_type_t> cpuExtraBufts() {
    std::vector<ggml_backend_buffer_type_t> out;
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_reg_t reg = cpu ? ggml_backend_dev_backend_reg(cpu) : nullptr;
    auto get = reg ? (ggml_backend_dev_get_extra_bufts_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts") : nullptr;
    for (ggml_backend_buffer_type_t * b = get ? get(cpu) : nullptr; b && *b; b++) out.push_back(*b);
    return out;
}

// One adapter file's tensors by the buffer type llama.cpp would put them in, padded as an allocation of
// them there would be (ggml_backend_alloc_ctx_tensors_from_buft). A file whose tensors' data does not
// lie within it (llama.cpp's read of it would fail) counts nothing. The host has read its header first
// (main/gguf: its tensor count is bounded by the model's, so gguf's own reading stays quick).
void addLoraFile(const llama_model * model, const std::string & path, const std::vector<ggml_backend_buffer_type_t> & extra, DeviceBytes & out) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    ggml_context * meta = nullptr;
    gguf_init_params gp = {/* .no_alloc = */ true, /* .ctx = */ &meta};
    gguf_context * g = gguf_init_from_file(path.c_str(), gp);
    if (!g) return;
    const uint64_t size = (uint64_t) st.st_size, data = gguf_get_data_offset(g);
    std::unordered_map<std::string, const ggml_tensor *> by_name;
    bool within = true;
    // gguf made the tensors of `meta` in the header's order
    ggml_tensor * cur = ggml_get_first_tensor(meta);
    for (int64_t i = 0; i < gguf_get_n_tensors(g) && cur && within; i++, cur = ggml_get_next_tensor(meta, cur)) {
        const uint64_t at = gguf_get_tensor_offset(g, i);
        within = data <= size && at <= size - data && ggml_nbytes(cur) <= size - data - at;
        by_name[ggml_get_name(cur)] = cur;
    }
    for (const auto & [name, t] : by_name) {
        if (!within) break;
        const bool a = name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_a") == 0;
        if (!a && !(name.size() > 7 && name.compare(name.size() - 7, 7, ".lora_b") == 0)) continue;
        const std::string base = name.substr(0, name.size() - 7);
        // llama.cpp takes a pair: one without its other half is refused at load
        if (!by_name.count(base + (a ? ".lora_b" : ".lora_a"))) continue;
        const ggml_tensor * w = model->get_tensor(base.c_str());
        if (!w || !w->buffer) continue;
        ggml_backend_buffer_type_t buft = ggml_backend_buffer_get_type(w->buffer);
        if (std::find(extra.begin(), extra.end(), buft) != extra.end()) buft = ggml_backend_dev_buffer_type(ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU));
        out[deviceOf(buft)] += GGML_PAD(ggml_backend_buft_get_alloc_size(buft, const_cast<ggml_tensor *>(t)), ggml_backend_buft_get_alignment(buft));
    }
    gguf_free(g);
    ggml_free(meta);
}

} // namespace

DeviceBytes loraMemory(const llama_model * model, const std::vector<AdapterEntry> & lora) {
    DeviceBytes out;
    const std::vector<ggml_backend_buffer_type_t> extra = cpuExtraBufts();
    for (const auto & e : lora) addLoraFile(model, e.path, extra, out);
    return out;
}

bool AdapterParams::steers() const {
    return std::any_of(cvecs.begin(), cvecs.end(), [](const AdapterEntry & e) { return e.scale != 0.0f; });
}

DeviceBytes cvecMemory(const llama_model * model) {
    DeviceBytes out;
    ggml_init_params ip = {/* .mem_size = */ ggml_tensor_overhead(), /* .mem_buffer = */ nullptr, /* .no_alloc = */ true};
    ggml_context_ptr meta(ggml_init(ip));
    if (!meta) return out;
    ggml_tensor * vec = ggml_new_tensor_1d(meta.get(), GGML_TYPE_F32, llama_model_n_embd(model));
    for (int32_t il = 1; il < llama_model_n_layer(model); il++) {
        ggml_backend_buffer_type_t buft = model->select_buft(il);
        out[deviceOf(buft)] += GGML_PAD(ggml_backend_buft_get_alloc_size(buft, vec), ggml_backend_buft_get_alignment(buft));
    }
    return out;
}

// The layers `p`'s control vectors steer on `model` (end 0: its last); refuses a range that ends before
// it starts, and each vector with a strength llama.cpp must not read for `model` (cvecProblem), as the
// load does before anything is read (the estimate and the fits alike).
static std::pair<int32_t, int32_t> refuseCvecs(const AdapterParams & p, const llama_model * model, const std::string & model_name) {
    const int32_t start = p.cvec_start;
    const int32_t end = p.cvec_end == 0 ? llama_model_n_layer(model) : p.cvec_end;
    if (start > end) {
        throw HearthError(codes::invalid_argument, "controlVectorLayerStart (" + std::to_string(start) + ") is after controlVectorLayerEnd (" + std::to_string(end) + ")");
    }
    for (const auto & e : p.cvecs) {
        if (e.scale == 0.0f) continue;
        const std::string problem = cvecProblem(e.path, llama_model_n_embd(model), llama_model_n_layer(model));
        if (!problem.empty()) throw HearthError(codes::invalid_argument, "the control vector " + e.path + " does not fit " + model_name + ": " + problem);
    }
    return {start, end};
}

DeviceBytes adapterMemory(const std::string & path, const llama_model_params & mp, const AdapterParams & p, const std::string & model_name) {
    if (!p.takeMemory()) return {};
    llama_model_params q = mp;
    q.no_alloc = true; // the tensors get buffer types (and empty buffers) but no memory or data, as common_fit_params reads a model
    q.load_mode = LLAMA_LOAD_MODE_NONE;
    q.progress_callback = nullptr;
    llama_model_ptr m(llama_model_load_from_file(path.c_str(), q));
    if (!m) return {};
    DeviceBytes out = loraMemory(m.get(), p.lora);
    if (p.steers()) {
        refuseCvecs(p, m.get(), model_name);
        for (const auto & [dev, bytes] : cvecMemory(m.get())) out[dev] += bytes;
    }
    return out;
}

std::vector<AdapterEntry> parseAdapterList(const std::string & key, const common_json & v) {
    const std::string shape = "must be a list of at most " + std::to_string(MAX_ADAPTERS) + " { path, scale }";
    if (!v.is_array() || v.size() > MAX_ADAPTERS) bad(key, shape);
    std::vector<AdapterEntry> out;
    for (const auto & e : v) {
        if (!e.is_object() || e.size() != 2 || !e.contains("path") || !e.contains("scale")) bad(key, "entries must be { path, scale }");
        const common_json & p = e.at("path");
        const common_json & s = e.at("scale");
        if (!p.is_string()) bad(key, "paths must be strings");
        const std::string path = p.get<std::string>();
        if (path.empty() || jsLength(path) > MAX_ADAPTER_PATH) bad(key, "paths must be 1 to " + std::to_string(MAX_ADAPTER_PATH) + " characters");
        if (!s.is_number()) bad(key, "scales must be numbers");
        const double d = s.get<double>();
        if (!(d >= -ADAPTER_SCALE_MAX && d <= ADAPTER_SCALE_MAX)) bad(key, "scales must be at least -10 and at most 10");
        // each file once, as main/params/adapters.ts: a request names an adapter by path, the API server by index
        for (size_t j = 0; j < out.size(); j++) {
            if (out[j].path == path) {
                throw HearthError(codes::invalid_argument, key + "." + std::to_string(out.size()) + " " + path + " is already listed at " + std::to_string(j) + ": give one scale per adapter");
            }
        }
        out.push_back({path, (float) d});
    }
    return out;
}

common_json adapterListJson(const std::vector<AdapterEntry> & list) {
    common_json a = common_json::array();
    for (const auto & e : list) a.push_back({{"path", e.path}, {"scale", (double) e.scale}});
    return a;
}

// What llama_adapter_lora_init checks less than its graph assumes (the engine host checks the shapes
// first, main/gguf/adapters.ts): a pair's halves of one rank, and as deep as the tensor they change (an
// expert tensor's pair one matrix per expert), each of a type llama.cpp computes with (weight_types.h).
// A pair that breaks any of these loads, and the first decode asserts or calls a null kernel, ending
// the process. And an alpha that is a number: a NaN one turns every reply into NaN logits. Empty: none.
static std::string loraProblem(const llama_model * model, const llama_adapter_lora * a) {
    static const std::string EMBD = "token_embd.weight";
    if (!std::isfinite(a->alpha)) return "its adapter.lora.alpha is not a finite number";
    for (const auto & [name, w] : a->ab_map) {
        const ggml_tensor * t = model->get_tensor(name.c_str());
        if (!t || !w.a || !w.b) continue; // refused by llama.cpp itself
        for (const ggml_tensor * half : {w.a, w.b}) {
            if (!computableType(half->type)) return "its pair for " + name + " is of type " + ggml_type_name(half->type) + ", which llama.cpp cannot compute with";
        }
        const bool embd = name.size() >= EMBD.size() && name.compare(name.size() - EMBD.size(), EMBD.size(), EMBD) == 0;
        const bool rank = embd ? w.a->ne[0] == w.b->ne[0] : w.a->ne[1] == w.b->ne[0];
        const bool deep = w.a->ne[2] == t->ne[2] && w.b->ne[2] == t->ne[2] && w.a->ne[3] == 1 && w.b->ne[3] == 1 && t->ne[3] == 1;
        if (!rank || !deep) return "its pair for " + name + " is of another rank or depth than that tensor";
    }
    return "";
}

void ContextAdapters::init(llama_model * model, llama_context * ctx, const AdapterParams & p, const std::string & model_name) {
    try {
        for (const auto & e : p.lora) {
            if (!isFile(e.path)) throw HearthError(codes::invalid_argument, "LoRA adapter not found: " + e.name());
            AllocationWatch watch; // llama.cpp says why an adapter does not fit only in its log
            llama_adapter_lora * a = llama_adapter_lora_init(model, e.path.c_str());
            if (!a && watch.failed()) throw HearthError(codes::out_of_memory, "not enough memory for the LoRA adapter " + e.name());
            if (!a) {
                const std::string why = logReason(watch.lastError());
                throw HearthError(codes::invalid_argument, "the LoRA adapter " + e.name() + " does not fit " + model_name + (why.empty() ? "" : ": " + why));
            }
            // an activated LoRA applies only after its invocation tokens (llama-server follows them per
            // request); applied as a plain one it would change every token
            if (llama_adapter_get_alora_n_invocation_tokens(a) > 0) {
                llama_adapter_lora_free(a);
                throw HearthError(codes::not_supported, "the LoRA adapter " + e.name() + " is an activated LoRA (aLoRA: it applies after its invocation tokens), which Hearth does not apply");
            }
            const std::string bad = loraProblem(model, a);
            if (!bad.empty()) {
                llama_adapter_lora_free(a);
                throw HearthError(codes::invalid_argument, "the LoRA adapter " + e.name() + " does not fit " + model_name + ": " + bad);
            }
            paths_.push_back(e.name());
            loras_.push_back(a);
            scales_.push_back(e.scale);
        }
        if (!loras_.empty()) apply(ctx, scales_);

        for (const auto & e : p.cvecs) {
            if (!isFile(e.path)) throw HearthError(codes::invalid_argument, "control vector not found: " + e.path);
        }
        if (!p.steers()) return;
        std::vector<common_control_vector_load_info> infos;
        for (const auto & e : p.cvecs) {
            if (e.scale != 0.0f) infos.push_back({e.scale, e.path});
        }
        const int32_t n_embd = llama_model_n_embd(model);
        const auto [start, end] = refuseCvecs(p, model, model_name);
        // each file alone first (after refuseCvecs' checks of their headers): which one does not fit is worth saying
        for (const auto & info : infos) {
            const common_control_vector_data one = common_control_vector_load({info});
            if (one.n_embd == -1) {
                throw HearthError(codes::invalid_argument, "the control vector " + info.fname + " could not be read: it must be a GGUF of F32 vectors named direction.<layer> (see the engine log)");
            }
            if (one.n_embd != n_embd) {
                throw HearthError(codes::invalid_argument, "the control vector " + info.fname + " does not fit " + model_name + ": its vectors are " +
                                                               std::to_string(one.n_embd) + " wide, the model's layers " + std::to_string(n_embd));
            }
        }
        const common_control_vector_data cvec = common_control_vector_load(infos);
        if (cvec.n_embd != n_embd) throw HearthError(codes::invalid_argument, "the control vectors could not be combined (see the engine log)");
        if (llama_set_adapter_cvec(ctx, cvec.data.data(), cvec.data.size(), cvec.n_embd, start, end) != 0) {
            throw HearthError(codes::invalid_argument, "llama.cpp could not apply the control vectors to " + model_name + " (see the engine log)");
        }
        cvec_memory_ = cvecMemory(model);
    } catch (...) {
        // nothing of a failed set stays on the context or the model
        llama_set_adapters_lora(ctx, nullptr, 0, nullptr);
        llama_set_adapter_cvec(ctx, nullptr, 0, 0, -1, -1);
        release();
        throw;
    }
}

void ContextAdapters::release() {
    for (auto * a : loras_) llama_adapter_lora_free(a);
    loras_.clear();
    paths_.clear();
    scales_.clear();
    cvec_memory_.clear();
}

std::vector<float> ContextAdapters::scalesFor(const std::vector<AdapterEntry> & asked) const {
    std::vector<float> out = scales_;
    for (const auto & e : asked) {
        size_t i = 0;
        while (i < paths_.size() && paths_[i] != e.path) i++;
        if (i == paths_.size()) {
            throw HearthError(codes::invalid_argument, "loraAdapters: " + e.path +
                                                           " is not one of the adapters this model was loaded with (add it to the model's load settings, with scale 0 to apply it only when asked)");
        }
        out[i] = e.scale;
    }
    return out;
}

std::string ContextAdapters::keyOf(const std::vector<float> & scales) const {
    std::string key;
    char buf[64];
    for (size_t i = 0; i < scales.size(); i++) {
        if (scales[i] == 0.0f) continue; // llama.cpp applies no adapter of scale 0
        std::snprintf(buf, sizeof(buf), "%zu:%a;", i, (double) scales[i]);
        key += buf;
    }
    return key;
}

DeviceBytes ContextAdapters::memory() const {
    DeviceBytes out;
    for (const llama_adapter_lora * a : loras_) {
        for (const auto & buf : a->bufs) out[deviceOf(ggml_backend_buffer_get_type(buf.get()))] += ggml_backend_buffer_get_size(buf.get());
    }
    for (const auto & [dev, bytes] : cvec_memory_) out[dev] += bytes;
    return out;
}

void ContextAdapters::apply(llama_context * ctx, const std::vector<float> & scales) {
    if (loras_.empty()) return;
    std::vector<float> s = scales;
    llama_set_adapters_lora(ctx, loras_.data(), loras_.size(), s.data());
}

} // namespace hearth
