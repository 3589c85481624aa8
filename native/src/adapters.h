// LoRA adapters and control vectors (main/params/adapters.ts defines the settings): parsed from the
// load and request families, loaded onto the model and applied to its context when the context is
// created, and a request's own adapter scales applied before it runs.
//
// llama.cpp applies a LoRA set to a context without reloading the model (llama_set_adapters_lora),
// but one decode computes every sequence in its batch with the set applied then. So the context's
// worker (context.cpp) admits a generation only beside running ones with the same set; one whose set
// differs waits until they end (queue order is kept). A sequence's cached prefix was computed under
// one set: a request under another set evaluates its prompt again (generation.cpp).
#pragma once

#include <string>
#include <vector>

#include "common.h"
#include "json.h"
#include "llama.h"
#include "util.h"

namespace hearth {

// One adapter file and its scale (a control vector's strength), as main/params/adapters.ts AdapterEntry.
struct AdapterEntry {
    std::string path;
    float scale = 0;
    // the file as the user knows it, where the host hands llama.cpp another name of it (/proc/self/fd/N:
    // the file it checked, opened once); a request names a loaded adapter so. Not parsed: the host's
    // `loraDisplayPaths` beside the list (context.cpp)
    std::string display;
    const std::string & name() const { return display.empty() ? path : display; }
};

// A list of AdapterEntry under `key`, checked as zod checks it (at most MAX_ADAPTERS entries, a path of
// 1 to 4096 characters, a scale in [-10, 10], no other keys); throws HearthError(invalid_argument).
std::vector<AdapterEntry> parseAdapterList(const std::string & key, const common_json & v);
common_json adapterListJson(const std::vector<AdapterEntry> & list);

// What a load asks for: LoRA adapters with their scales, control vectors with their strengths and the
// layers they steer (end 0: the model's last layer).
struct AdapterParams {
    std::vector<AdapterEntry> lora, cvecs;
    int32_t cvec_start = 1, cvec_end = 0;
    // whether the context gets control vectors: one with a strength other than 0 (llama.cpp allocates
    // the context's vectors only then)
    bool steers() const;
    // whether any of them takes memory (adapterMemory)
    bool takeMemory() const { return !lora.empty() || steers(); }
};

// What LoRA adapters will take where, on `model` as it is loaded (with no_alloc too: its tensors' buffer
// types say where they would be), as llama_adapter_lora_init places and allocates them: each pair of
// lora_a/lora_b tensors on the buffer type of the tensor it changes (the CPU's where that one is
// repacked), each tensor padded to its buffer type's alignment. A pair with no such tensor in the model,
// or a file that is no GGUF or whose data lies outside it, counts nothing (a pair of the wrong shape
// counts as if it fitted: the engine host refuses such a file first, main/gguf/adapters.ts); the load
// says why it refuses them.
DeviceBytes loraMemory(const llama_model * model, const std::vector<AdapterEntry> & lora);
// What a context's control vectors take where, as llama_adapter_cvec::init allocates them: one F32
// vector n_embd wide for each layer but the first, on the buffer type llama.cpp picks for that layer,
// each padded to its buffer type's alignment. llama.cpp's own memory breakdown leaves them out, and its
// context keeps them private: a loaded context's figure is reckoned by this too.
DeviceBytes cvecMemory(const llama_model * model);
// LoRA adapters and control vectors of `p` together, for the model at `path` loaded with `mp`, read
// without allocating its weights (no model is read when `p` loads nothing). Control vectors the load
// would refuse from their headers (layers, width, none in the file) or their layer range throw
// HearthError(invalid_argument) as the load does, naming the model `model_name`.
DeviceBytes adapterMemory(const std::string & path, const llama_model_params & mp, const AdapterParams & p, const std::string & model_name);

// The adapters a context was created with. Set up before the context's worker starts; afterwards read
// only (from the JS thread too), but for apply() on the worker.
class ContextAdapters {
public:
    // Loads each LoRA adapter onto the model and applies them with their scales, then the control
    // vectors. A file that is not an adapter for this model (another architecture or width, not a LoRA
    // GGUF, missing) throws HearthError(invalid_argument) naming it and saying why; what was loaded
    // is freed again, and the model is untouched (control vectors llama.cpp had allocated on the
    // context stay there, switched off, until the context is freed: it frees them only then).
    void init(llama_model * model, llama_context * ctx, const AdapterParams & p, const std::string & model_name);
    // Frees the LoRA adapters and forgets the control vectors' bytes (after the context that used them is freed).
    void release();

    // The scales of a request: the load's, with those of the adapters it names changed. A path the
    // context was not created with throws HearthError(invalid_argument).
    std::vector<float> scalesFor(const std::vector<AdapterEntry> & asked) const;
    const std::vector<float> & defaults() const { return scales_; }
    // Names the set a list of scales applies: the adapters with a scale other than 0, and their scales
    // ("" when none). Two requests with the same key compute alike.
    std::string keyOf(const std::vector<float> & scales) const;
    // Applies `scales` to the context (llama.cpp leaves a context whose set is already this one alone).
    void apply(llama_context * ctx, const std::vector<float> & scales);

    size_t size() const { return loras_.size(); }
    // What the loaded LoRA adapters' buffers and the context's control vectors hold, per device
    // (memory.h adds it to the model's bytes).
    DeviceBytes memory() const;

private:
    DeviceBytes cvec_memory_; // the control vectors' (cvecMemory), once applied
    std::vector<std::string> paths_;
    std::vector<llama_adapter_lora *> loras_;
    std::vector<float> scales_;
};

} // namespace hearth
