#include "weight_types.h"

#include <vector>

#include "errors.h"
#include "gguf.h"
#include "llama.h"

namespace hearth {

bool computableType(ggml_type t) {
    if (t < 0 || t >= GGML_TYPE_COUNT) return false;
    return t == GGML_TYPE_F32 || ggml_get_type_traits(t)->to_float != nullptr;
}

// The one tensor llama.cpp reads as integers: a speculative draft's map of its vocabulary to the
// target's (src/models/eagle3.cpp and dflash.cpp assert it is I64).
static const char * const D2T = "d2t";

// One file's problem; `count` gets its split.count (1 when it has none).
static std::string fileProblem(const std::string & path, int & count) {
    count = 1;
    gguf_init_params gp = {/* .no_alloc = */ true, /* .ctx = */ nullptr};
    gguf_context * g = gguf_init_from_file(path.c_str(), gp);
    if (!g) return "";
    std::string why;
    const int64_t n = gguf_get_n_tensors(g);
    for (int64_t i = 0; i < n && why.empty(); i++) {
        const std::string name = gguf_get_tensor_name(g, i);
        const ggml_type t = gguf_get_tensor_type(g, i);
        const bool ok = name == D2T ? t == GGML_TYPE_I64 : computableType(t);
        if (!ok) why = "its tensor " + name + " is of type " + ggml_type_name(t) + ", which llama.cpp cannot compute with";
    }
    const int64_t k = gguf_find_key(g, "split.count");
    if (k >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_UINT16) count = gguf_get_val_u16(g, k);
    gguf_free(g);
    return why;
}

std::string weightTypeProblem(const std::string & path) {
    int count = 1;
    std::string why = fileProblem(path, count);
    if (!why.empty() || count <= 1) return why;
    // the other parts, named as llama.cpp names them from the first (llama-model-loader.cpp llama_get_list_splits)
    std::vector<char> buf(4096 + 64, 0);
    const int32_t n = llama_split_prefix(buf.data(), buf.size(), path.c_str(), 0, count);
    if (n <= 0) return ""; // llama.cpp refuses the name itself
    const std::string prefix(buf.data(), (size_t) n);
    for (int i = 1; i < count && why.empty(); i++) {
        const int32_t m = llama_split_path(buf.data(), buf.size(), prefix.c_str(), i, count);
        int ignored = 1;
        if (m > 0) why = fileProblem(std::string(buf.data(), (size_t) m), ignored);
        if (!why.empty()) why = "its part " + std::to_string(i + 1) + " of " + std::to_string(count) + ": " + why;
    }
    return why;
}

void refuseUncomputable(const std::string & path, const std::string & what) {
    if (path.empty()) return;
    const std::string why = weightTypeProblem(path);
    if (!why.empty()) throw HearthError(codes::load_failed, what + " cannot be run: " + why);
}

} // namespace hearth
