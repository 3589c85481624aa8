#include "kv_space.h"

#include <algorithm>

namespace hearth {

int kvCellsFree(const Context::State & st) {
    long used = 0;
    for (const auto & t : st.seq_tokens) used += (long) t.size();
    return std::max(0, (int) ((long) llama_n_ctx(st.ctx) - used));
}

int kvMakeRoom(Context::State & st, const std::vector<bool> & busy, int need) {
    llama_memory_t mem = llama_get_memory(st.ctx);
    int free = kvCellsFree(st);
    while (free < need) {
        int victim = -1;
        for (int s = 0; s < st.n_seq; s++) {
            if (busy[s] || s == st.keep_seq || st.seq_tokens[s].empty()) continue;
            if (victim < 0 || st.seq_tokens[s].size() > st.seq_tokens[victim].size()) victim = s;
        }
        if (victim < 0) break;
        llama_memory_seq_rm(mem, victim, -1, -1);
        st.seq_tokens[victim].clear();
        free = kvCellsFree(st);
    }
    return free;
}

bool kvShift(Context::State & st, int seq, int n_keep) {
    llama_memory_t mem = llama_get_memory(st.ctx);
    if (!llama_memory_can_shift(mem)) return false;
    std::vector<llama_token> & cached = st.seq_tokens[seq];
    const int n = (int) cached.size();
    n_keep = std::max(0, std::min(n_keep, (int) llama_n_ctx(st.ctx) - 4));
    const int n_discard = (n - n_keep) / 2;
    if (n_discard < 1) return false;
    llama_memory_seq_rm(mem, seq, n_keep, n_keep + n_discard);
    llama_memory_seq_add(mem, seq, n_keep + n_discard, n, -n_discard);
    cached.erase(cached.begin() + n_keep, cached.begin() + n_keep + n_discard);
    return true;
}

} // namespace hearth
