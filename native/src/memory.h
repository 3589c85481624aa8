// Memory: llama.cpp's estimate before a load (common_get_device_memory_data), its parameter fitting
// (common_fit_params, the code behind --fit), and its breakdown of a loaded context.
#pragma once

#include <napi.h>

#include "llama.h"

#include <mutex>

namespace hearth {

// common's fitting and estimating swap the global llama logger while they run: one at a time
extern std::mutex g_fit_mu;

// estimateMemory(path, params) -> Promise<{ devices: [...], host: {...}, layers, trainedContext }>
Napi::Value EstimateMemory(const Napi::CallbackInfo & info);
// fitParams(path, params, { marginMiB, minContext }) -> Promise<{ status, gpuLayers, contextSize, tensorSplit }>
Napi::Value FitParams(const Napi::CallbackInfo & info);
// per device (and host) { model, context, compute } bytes of a live context
Napi::Value memoryBreakdownToJs(Napi::Env env, const llama_model * model, const llama_context * ctx);

} // namespace hearth
