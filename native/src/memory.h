// Memory: llama.cpp's estimate before a load (common_get_device_memory_data), its parameter fitting
// (common_fit_params, the code behind --fit), and its breakdown of a loaded context.
#pragma once

#include <napi.h>

#include "llama.h"
#include "vision.h"

#include <mutex>
#include <string>
#include <vector>

namespace hearth {

// estimateMemory(path, params) -> Promise<{ devices: [...], host: {...}, layers, trainedContext }>
Napi::Value EstimateMemory(const Napi::CallbackInfo & info);
// fitParams(path, params, { marginMiB, minContext }) -> Promise<{ status, gpuLayers, contextSize, tensorSplit }>
Napi::Value FitParams(const Napi::CallbackInfo & info);
// What a context's buffers hold, in bytes: per device of its model (llama_model_get_device order) and on
// the host. llama.cpp's accounting reads buffers a decode may reallocate, so the context's worker takes
// it (contextMemory) and publishes it; the JS thread reads only the published copy.
struct BufferUse {
    size_t model = 0, context = 0, compute = 0;
};
struct ContextMemory {
    std::vector<BufferUse> devices;
    BufferUse host;
};
// `draft`: a speculative draft model's context beside it, whose model and cache count on the same
// devices (the draft loads on the target's devices: LoadParams::draftModel); `adapters`: the context's
// LoRA adapters and control vectors (ContextAdapters::memory), counted in the model's bytes where they are
ContextMemory contextMemory(const llama_model * model, const llama_context * ctx, const llama_context * draft = nullptr, const DeviceBytes & adapters = {});

// per device (and host) { model, context, compute, projector } bytes of a context (`use`, as its worker
// published it) and of its model's vision projector, with each device's free and total memory read now
Napi::Value memoryBreakdownToJs(Napi::Env env, const llama_model * model, const ContextMemory & use, const ProjectorMemory & projector);

// The GPUs as llama.cpp numbers them for main_gpu and tensor_split when a load names no devices (its
// default choice in llama_model_load_from_file_impl, src/llama.cpp): rpc-servers' devices first, then
// the GPUs (a second device with another's id skipped), the integrated GPUs of one backend only when
// there is no other GPU. test/engine/two-gpus.test.ts checks it against where llama.cpp loads a model.
std::vector<ggml_backend_dev_t> llamaGpus();

// The devices a model uses, in llama.cpp's order; of the model at `model_path` loaded with `mp`, as a
// vocabulary-only load reads them (empty when it fails: the fit itself then says why the model does not load).
std::vector<ggml_backend_dev_t> modelDevices(const llama_model * model);
std::vector<ggml_backend_dev_t> modelDevices(const std::string & model_path, const llama_model_params & mp);

// Widens the fit's per-device `margins` (in the order of the model's `devices`) by the memory of a vision
// projector or of LoRA adapters and control vectors, where it will be (llama-server adds a projector's to --fit-target the same way).
void addToMargins(const std::vector<ggml_backend_dev_t> & devices, const DeviceBytes & bytes, std::vector<size_t> & margins);

} // namespace hearth
