#include "tensor_overrides.h"

#include <map>
#include <regex>

#include "common.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "util.h"

namespace hearth {

namespace {

// The buffer types an override may name: each device's own, by name (as llama.cpp's -ot lists them)
std::map<std::string, ggml_backend_buffer_type_t> bufferTypes() {
    std::map<std::string, ggml_backend_buffer_type_t> out;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(ggml_backend_dev_get(i));
        if (buft) out[ggml_backend_buft_name(buft)] = buft;
    }
    return out;
}

[[noreturn]] void refuse(const std::string & entry, const std::string & why) {
    throw HearthError(codes::invalid_argument, "tensorOverrides \"" + entry + "\": " + why);
}

// pattern and buffer type of an entry (split at the last '=': a regular expression may hold one)
std::pair<std::string, ggml_backend_buffer_type_t> parseEntry(const std::string & entry) {
    const size_t eq = entry.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) refuse(entry, "must be pattern=buffer type, like blk\\.1[0-9]\\.ffn_.*_exps=CPU");
    const std::string pattern = entry.substr(0, eq), type = entry.substr(eq + 1);
    try {
        std::regex compiled(pattern); // what llama.cpp's loader does with it, for every tensor
    } catch (const std::regex_error & e) {
        refuse(entry, "\"" + pattern + "\" is not a valid regular expression (" + e.what() + ")");
    }
    const auto types = bufferTypes();
    const auto it = types.find(type);
    if (it == types.end()) {
        std::string names;
        for (const auto & t : types) names += (names.empty() ? "" : ", ") + t.first;
        refuse(entry, "unknown buffer type \"" + type + "\" (this machine has: " + names + ")");
    }
    return {pattern, it->second};
}

} // namespace

void checkTensorOverride(const std::string & entry) {
    parseEntry(entry);
}

std::shared_ptr<const TensorOverrides> buildTensorOverrides(const std::vector<std::string> & entries, int32_t n_cpu_moe) {
    if (entries.empty() && n_cpu_moe <= 0) return nullptr;
    auto out = std::make_shared<TensorOverrides>();
    std::vector<ggml_backend_buffer_type_t> types;
    for (const auto & e : entries) {
        auto [pattern, buft] = parseEntry(e);
        out->patterns.push_back(pattern);
        types.push_back(buft);
    }
    for (int32_t i = 0; i < n_cpu_moe; i++) {
        out->patterns.push_back(llm_ffn_block_regex(i, LLM_FFN_EXPS_REGEX));
        types.push_back(llm_ffn_exps_cpu_override().buft);
    }
    // the strings are in place now: the list points into them
    for (size_t i = 0; i < out->patterns.size(); i++) out->list.push_back({out->patterns[i].c_str(), types[i]});
    out->list.push_back({nullptr, nullptr});
    return out;
}

std::vector<std::string> describeOverrides(const llama_model_tensor_buft_override * list) {
    std::vector<std::string> out;
    for (const auto * o = list; o && o->pattern; ++o) out.push_back(std::string(o->pattern) + "=" + ggml_backend_buft_name(o->buft));
    return out;
}

} // namespace hearth
