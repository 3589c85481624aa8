// Session files (worker thread): one sequence's tokens and llama.cpp state, behind a header with the
// model's fingerprint and the KV cache types, so a file is restored only where it fits.
#include "session.h"

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "activity.h"
#include "task.h"
#include "util.h"

namespace hearth {

// ---- sessions (worker thread) ---------------------------------------------------------

static const char SESSION_MAGIC[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '1'};
// the piece a state is written or read in (progress is stamped between pieces)
static constexpr uint64_t kIoPiece = 64ull << 20;

static std::string sessionHeader(const Context::State & st) {
    return st.model->fingerprint + "|k=" + ggml_type_name(st.type_k) + "|v=" + ggml_type_name(st.type_v);
}

// A path as the addon gets it (UTF-8): std::filesystem reads it as wide on Windows, where a plain
// std::string path would be read in the ANSI code page.
static std::filesystem::path fsPath(const std::string & utf8) { return std::filesystem::u8path(utf8); }

void runSave(Context::State & st, Task & t) {
    const auto & toks = st.seq_tokens[t.seq];
    if (toks.empty()) throw HearthError(codes::invalid_argument, "sequence " + std::to_string(t.seq) + " is empty: nothing to save");
    progressHere();
    size_t size = llama_state_seq_get_size(st.ctx, t.seq);
    std::vector<uint8_t> data(size);
    size_t got = llama_state_seq_get_data(st.ctx, data.data(), size, t.seq);
    progressHere();
    if (got == 0) throw HearthError(codes::session_failed, "llama.cpp could not serialize the sequence");
    std::string header = sessionHeader(st);
    const std::string tmp = t.path + ".tmp";
    const auto tmp_path = fsPath(tmp);
    std::error_code ec;
    std::filesystem::remove(tmp_path, ec); // a leftover (or a link planted there) is not written through
    auto fail = [&](const std::string & why) {
        std::filesystem::remove(tmp_path, ec);
        throw HearthError(codes::session_failed, why);
    };
    {
        std::ofstream f(tmp_path, std::ios::binary | std::ios::trunc);
        if (!f) fail("cannot write " + tmp);
        uint32_t hl = (uint32_t) header.size(), nt = (uint32_t) toks.size();
        uint64_t ds = got;
        f.write(SESSION_MAGIC, 8);
        f.write((const char *) &hl, 4);
        f.write(header.data(), hl);
        f.write((const char *) &nt, 4);
        f.write((const char *) toks.data(), nt * sizeof(llama_token));
        f.write((const char *) &ds, 8);
        // a long conversation's state can be gigabytes: progress for the task watchdog between pieces
        for (uint64_t at = 0; at < ds && f; at += kIoPiece) {
            progressHere();
            f.write((const char *) data.data() + at, (std::streamsize) std::min<uint64_t>(kIoPiece, ds - at));
        }
        f.close(); // its last flush can fail too (a full disk)
        if (f.fail()) fail("write to " + tmp + " failed");
    }
    // replaces the file before it, on Windows too (std::rename refuses an existing one there)
    std::filesystem::rename(tmp_path, fsPath(t.path), ec);
    if (ec) fail("cannot rename " + tmp + " to " + t.path + ": " + ec.message());
    t.sessionTokens = (int) toks.size();
}

void runRestore(Context::State & st, Task & t) {
    const auto path = fsPath(t.path);
    std::error_code ec;
    // a regular file only: a FIFO would block the worker, a link could point anywhere
    if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::regular) {
        throw HearthError(codes::session_failed, "cannot open session file " + t.path + " (not a regular file)");
    }
    const uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) throw HearthError(codes::session_failed, "cannot open session file " + t.path);
    std::ifstream f(path, std::ios::binary);
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
    if (!f || nt > llama_n_ctx(st.ctx)) throw HearthError(codes::session_mismatch, t.path + ": " + std::to_string(nt) + " tokens do not fit this context");
    // the sizes it states must add up to the file's, before anything is allocated by them
    const uint64_t before_data = 8 + 4 + (uint64_t) hl + 4 + (uint64_t) nt * sizeof(llama_token) + 8;
    if (file_size < before_data) throw HearthError(codes::session_failed, t.path + ": truncated");
    std::vector<llama_token> toks(nt);
    f.read((char *) toks.data(), nt * sizeof(llama_token));
    f.read((char *) &ds, 8);
    if (!f || ds != file_size - before_data) throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    std::vector<uint8_t> data(ds);
    for (uint64_t at = 0; at < ds && f; at += kIoPiece) {
        progressHere();
        f.read((char *) data.data() + at, (std::streamsize) std::min<uint64_t>(kIoPiece, ds - at));
    }
    if (!f) throw HearthError(codes::session_failed, t.path + ": truncated");
    progressHere();
    llama_memory_t mem = llama_get_memory(st.ctx);
    llama_memory_seq_rm(mem, t.seq, -1, -1);
    st.seq_tokens[t.seq].clear();
    if (llama_state_seq_set_data(st.ctx, data.data(), ds, t.seq) == 0) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError(codes::session_mismatch, t.path + ": llama.cpp rejected the saved state for this context");
    }
    // the token list must describe the restored cells (one per position up to the last), or the next
    // decode on this sequence fails. Every position is restored for a plain model; llama.cpp saves only
    // the last window of a sliding-window cache (masked cells are left out, with swaFull too: the window
    // check in generation.cpp then decides what is reusable) and one cell of a recurrent state.
    const llama_model * model = st.model->model;
    const bool every_position = llama_model_n_swa(model) == 0 && !llama_model_is_recurrent(model) && !llama_model_is_hybrid(model);
    const llama_pos pos_min = llama_memory_seq_pos_min(mem, t.seq);
    if (llama_memory_seq_pos_max(mem, t.seq) + 1 != (llama_pos) nt || (every_position && pos_min > 0)) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError(codes::session_mismatch, t.path + ": the saved state does not match its " + std::to_string(nt) + " tokens");
    }
    st.seq_tokens[t.seq] = std::move(toks);
    t.sessionTokens = (int) nt;
}

} // namespace hearth
