// What a saved session's state may hold (session_fields.h).
//
// llama.cpp reads a state's cell count and sizes what it allocates by it (llama_batch_allocr::
// ubatch_reserve, ~21 bytes a cell) before comparing it with the cache's cells, so a crafted count of
// billions would allocate gigabytes; and a recurrent state of more than one cell for a sequence makes its
// check of the cells it found assert (llama_memory_recurrent::state_read_meta: an abort of the host). The
// checksum in front of a state keeps damage out, not a file made to agree with it. So for the formats
// this knows, every 4-byte field is held to what its writer can have written there.
#include "session_fields.h"

#include <algorithm>
#include <typeinfo>

#include "../src/llama-kv-cache-iswa.h"
#include "../src/llama-kv-cache.h"
#include "../src/llama-memory-hybrid-iswa.h"
#include "../src/llama-memory-hybrid.h"
#include "../src/llama-memory-recurrent.h"
#include "../src/llama-model.h" // llama_model::hparams: the widths a state's fields may hold

namespace hearth {

// The memory modules whose state formats this describes: the plain KV cache, its sliding-window pair, the
// recurrent state and the hybrids of those, exactly (a subclass such as llama_memory_hybrid_idx writes
// fields of its own; DeepSeek's caches write a magic number, a version and sizes of their own).
static bool knownFormat(const llama_memory_i & mem) {
    const std::type_info & t = typeid(mem);
    return t == typeid(llama_kv_cache) || t == typeid(llama_kv_cache_iswa) || t == typeid(llama_memory_recurrent) || t == typeid(llama_memory_hybrid) ||
           t == typeid(llama_memory_hybrid_iswa);
}

// Their writers write in 4 bytes counts and sizes no larger than the context's cells and sequences, the
// model's layers (its next-token-prediction layers counted: the KV cache keeps them too), positions within
// the context, ggml's type ids and element sizes (under the floor of 1,024), and one width exactly, which
// llama.cpp compares with its own: a transposed V cache's n_embd_v_gqa of a layer. (A recurrent state's
// n_embd_s follows only a transposed state, which llama.cpp never writes and refuses.)
StateFields stateFields(const Context::State & st, const llama_memory_i & mem) {
    StateFields f;
    if (!knownFormat(mem)) return f;
    const llama_model * model = st.model->model;
    const llama_hparams & hp = model->hparams;
    const uint32_t n_layer = hp.n_layer_all; // llama_model_n_layer's and the next-token-prediction layers
    f.most = std::max<uint32_t>({1024, llama_n_ctx(st.ctx), llama_n_seq_max(st.ctx), n_layer, (uint32_t) GGML_TYPE_COUNT});
    for (uint32_t il = 0; il < n_layer; il++) f.widths.push_back(hp.n_embd_v_gqa(il));
    return f;
}

std::string StateFields::refuse(uint32_t v, bool recurrent_cells) const {
    if (recurrent_cells && v > 1) return "its recurrent state holds " + std::to_string(v) + " cells for one sequence, which has one";
    if (v <= most || std::find(widths.begin(), widths.end(), v) != widths.end()) return "";
    return "it holds a field of " + std::to_string(v) + ", larger than any count of this context (at most " + std::to_string(most) + ") and none of its widths";
}

// A hybrid's state is its attention part's, then its recurrent part's (llama_memory_hybrid::state_read
// and llama_memory_hybrid_iswa::state_read with no flags: both parts, in that order, nothing else), read
// here part by part so that the recurrent part's cell count is held to one cell as a recurrent model's
// is. This and knownFormat's fields are llama.cpp's formats as of the pinned version: read them again
// with each llama.cpp update (the tests restore a plain, a sliding-window, a recurrent and a hybrid
// model's states; llama_memory_hybrid_iswa's is not among them).
void readState(llama_memory_i & mem, llama_io_read_i & io, llama_seq_id seq, const std::function<void()> & recurrentStarts) {
    const std::type_info & t = typeid(mem);
    if (t == typeid(llama_memory_recurrent)) {
        recurrentStarts();
        mem.state_read(io, seq, 0);
    } else if (t == typeid(llama_memory_hybrid)) {
        auto & h = static_cast<llama_memory_hybrid &>(mem);
        h.get_mem_attn()->state_read(io, seq, 0);
        recurrentStarts();
        h.get_mem_recr()->state_read(io, seq, 0);
    } else if (t == typeid(llama_memory_hybrid_iswa)) {
        auto & h = static_cast<llama_memory_hybrid_iswa &>(mem);
        h.get_mem_attn()->state_read(io, seq, 0);
        recurrentStarts();
        h.get_mem_recr()->state_read(io, seq, 0);
    } else {
        mem.state_read(io, seq, 0);
    }
}

} // namespace hearth
