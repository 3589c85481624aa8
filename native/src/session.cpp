// Session files (worker thread): one sequence's tokens and llama.cpp state, behind a header with the
// model's fingerprint and the KV cache types, so a file is restored only where it fits.
#include "session.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "task.h"
#include "util.h"

namespace hearth {

// ---- sessions (worker thread) ---------------------------------------------------------

static const char SESSION_MAGIC[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '1'};

static std::string sessionHeader(const Context::State & st) {
    return st.model->fingerprint + "|k=" + ggml_type_name(st.type_k) + "|v=" + ggml_type_name(st.type_v);
}

void runSave(Context::State & st, Task & t) {
    const auto & toks = st.seq_tokens[t.seq];
    if (toks.empty()) throw HearthError(codes::invalid_argument, "sequence " + std::to_string(t.seq) + " is empty: nothing to save");
    size_t size = llama_state_seq_get_size(st.ctx, t.seq);
    std::vector<uint8_t> data(size);
    size_t got = llama_state_seq_get_data(st.ctx, data.data(), size, t.seq);
    if (got == 0) throw HearthError(codes::session_failed, "llama.cpp could not serialize the sequence");
    std::string header = sessionHeader(st);
    std::string tmp = t.path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw HearthError(codes::session_failed, "cannot write " + tmp);
        uint32_t hl = (uint32_t) header.size(), nt = (uint32_t) toks.size();
        uint64_t ds = got;
        f.write(SESSION_MAGIC, 8);
        f.write((const char *) &hl, 4);
        f.write(header.data(), hl);
        f.write((const char *) &nt, 4);
        f.write((const char *) toks.data(), nt * sizeof(llama_token));
        f.write((const char *) &ds, 8);
        f.write((const char *) data.data(), ds);
        if (!f) throw HearthError(codes::session_failed, "write to " + tmp + " failed");
    }
    if (std::rename(tmp.c_str(), t.path.c_str()) != 0) throw HearthError(codes::session_failed, "cannot rename " + tmp + " to " + t.path);
    t.sessionTokens = (int) toks.size();
}

void runRestore(Context::State & st, Task & t) {
    std::ifstream f(t.path, std::ios::binary);
    if (!f) throw HearthError(codes::session_failed, "cannot open session file " + t.path);
    char magic[8];
    uint32_t hl = 0, nt = 0;
    uint64_t ds = 0;
    f.read(magic, 8);
    if (!f || std::memcmp(magic, SESSION_MAGIC, 8) != 0) throw HearthError(codes::session_failed, t.path + " is not a Hearth session file");
    f.read((char *) &hl, 4);
    if (!f || hl > 65536) throw HearthError(codes::session_failed, t.path + ": corrupt header");
    std::string header(hl, '\0');
    f.read(header.data(), hl);
    if (!f) throw HearthError(codes::session_failed, t.path + ": truncated");
    std::string want = sessionHeader(st);
    if (header != want) {
        throw HearthError(codes::session_mismatch, "the session in " + t.path + " was saved for another model or cache type (" + header + "), not this one (" + want + ")");
    }
    f.read((char *) &nt, 4);
    if (!f || (int) nt > (int) llama_n_ctx(st.ctx)) throw HearthError(codes::session_mismatch, t.path + ": " + std::to_string(nt) + " tokens do not fit this context");
    std::vector<llama_token> toks(nt);
    f.read((char *) toks.data(), nt * sizeof(llama_token));
    f.read((char *) &ds, 8);
    if (!f || ds > (1ull << 40)) throw HearthError(codes::session_failed, t.path + ": truncated");
    std::vector<uint8_t> data(ds);
    f.read((char *) data.data(), ds);
    if (!f) throw HearthError(codes::session_failed, t.path + ": truncated");
    llama_memory_t mem = llama_get_memory(st.ctx);
    llama_memory_seq_rm(mem, t.seq, -1, -1);
    st.seq_tokens[t.seq].clear();
    if (llama_state_seq_set_data(st.ctx, data.data(), ds, t.seq) == 0) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError(codes::session_mismatch, t.path + ": llama.cpp rejected the saved state for this context");
    }
    // the token list must describe the restored cells (one per position), or the next decode on this
    // sequence fails
    if (llama_memory_seq_pos_max(mem, t.seq) + 1 != (llama_pos) nt || llama_memory_seq_pos_min(mem, t.seq) > 0) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError(codes::session_mismatch, t.path + ": the saved state does not match its " + std::to_string(nt) + " tokens");
    }
    st.seq_tokens[t.seq] = std::move(toks);
    t.sessionTokens = (int) nt;
}

} // namespace hearth
