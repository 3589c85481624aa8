// What llama.cpp gets of a load's settings (params.h LoadParams): its model parameters, the draft
// model's, the tensor overrides and split, and the speculative decoding parameters. Parsed in params.cpp.
#include "params.h"

#include <algorithm>

namespace hearth {

std::shared_ptr<const TensorOverrides> LoadParams::overrides() const {
    return buildTensorOverrides(tensor_overrides, n_cpu_moe);
}

llama_model_params LoadParams::model() const {
    llama_model_params p = llama_model_default_params();
    // "auto": the fit to device memory is decided before the load (fitMarginMiB); without it, every layer
    p.n_gpu_layers = gpu_auto || gpu_max ? -1 : gpu_layers;
    p.load_mode = use_mmap ? (use_mlock ? LLAMA_LOAD_MODE_MMAP_MLOCK : LLAMA_LOAD_MODE_MMAP) : (use_mlock ? LLAMA_LOAD_MODE_MLOCK : LLAMA_LOAD_MODE_NONE);
    p.split_mode = split_mode;
    p.main_gpu = main_gpu;
    p.no_alloc = no_alloc;
    return p;
}

std::string LoadParams::speculativeKind() const {
    if (speculative == "auto") return draft_model.empty() ? "none" : "draft";
    if (speculative == "off") return "none";
    return speculative;
}

common_params_speculative LoadParams::speculativeParams() const {
    common_params_speculative p;
    p.draft.n_max = draft_max;
    p.draft.n_min = draft_min;
    p.draft.p_min = draft_p_min;
    for (common_params_speculative_ngram_map * m : {&p.ngram_simple, &p.ngram_map_k, &p.ngram_map_k4v}) {
        m->size_n = (uint16_t) ngram_size_n;
        m->size_m = (uint16_t) ngram_size_m;
        m->min_hits = (uint16_t) ngram_min_hits;
    }
    p.ngram_mod.n_match = ngram_mod_match;
    p.ngram_mod.n_max = ngram_mod_max;
    p.ngram_mod.n_min = ngram_mod_min;
    return p;
}

llama_model_params LoadParams::draftModel(const float * target_split) const {
    llama_model_params p = model();
    p.tensor_split = target_split;
    p.n_gpu_layers = !gpu_auto && !gpu_max && gpu_layers == 0 ? 0 : -1;
    return p;
}

std::vector<float> LoadParams::split() const {
    if (tensor_split.empty()) return {};
    std::vector<float> out(llama_max_devices(), 0.0f);
    std::copy(tensor_split.begin(), tensor_split.end(), out.begin());
    return out;
}

} // namespace hearth
