// Where a model's tensors go, by name: llama.cpp's tensor buffer overrides (llama_model_params::
// tensor_buft_overrides, `-ot pattern=buffer type` in its tools) and the MoE offload built on them
// (`--n-cpu-moe N`: the experts of the first N layers in system RAM, common.h's llm_ffn_* helpers).
// The load family's tensorOverrides and nCpuMoe (params.cpp) are checked here, and turned into the
// null-terminated list a load, an estimate or a fit hands llama.cpp; what llama.cpp's fit chose is
// read back as the same "pattern=buffer type" strings.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llama.h"

namespace hearth {

// The most layers nCpuMoe may name: llama.cpp's LLAMA_MAX_LAYERS (src/llama-hparams.h); main/params/load.ts
// MAX_CPU_MOE_LAYERS says the same.
constexpr int32_t MAX_CPU_MOE_LAYERS = 512;

// Throws invalid_argument naming `entry` unless it is "pattern=buffer type" with a pattern std::regex
// compiles (llama.cpp matches with it) and a buffer type of a device this process has.
void checkTensorOverride(const std::string & entry);

// The list llama.cpp takes, with the strings it points into; never moved once built (shared).
struct TensorOverrides {
    std::vector<std::string> patterns;
    std::vector<llama_model_tensor_buft_override> list; // ends with {nullptr, nullptr}
};
// The user's entries first (the first pattern that matches a tensor wins), then the experts of layers
// 0 .. n_cpu_moe - 1 on the CPU; null when there are none.
std::shared_ptr<const TensorOverrides> buildTensorOverrides(const std::vector<std::string> & entries, int32_t n_cpu_moe);

// A null-terminated override list (what llama.cpp's fit wrote) as "pattern=buffer type" strings.
std::vector<std::string> describeOverrides(const llama_model_tensor_buft_override * list);

} // namespace hearth
