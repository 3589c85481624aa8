// Session files (worker thread): one sequence's tokens and llama.cpp state, as llama.cpp's own sequence
// state file (llama_state_seq_save_file and _load_file, as llama-server's slot saves: written and read a
// tensor at a time, never the whole state in memory at once), then a trailer with the model's
// fingerprint and the KV cache types, so a file is restored only where it fits, and a checksum:
//
//   [llama.cpp's file: magic, version, n tokens, tokens, state] [header] [u32 header bytes]
//   [u64 llama.cpp's file's bytes] [u64 its checksum] [SESSION_MAGIC]
//
// llama.cpp reads its part and stops, whatever follows it. Its reader does not stop at the end of a
// file, though: a state whose sizes run past it is read on, then asserted on, which ends the process.
// The checksum keeps a damaged file from reaching it.
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

static const char SESSION_MAGIC[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '2'};
// what an earlier Hearth wrote (its header first, then the whole state): refused as made elsewhere
static const char SESSION_MAGIC_1[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '1'};
static constexpr uint64_t TRAILER_FIXED = 4 + 8 + 8 + sizeof(SESSION_MAGIC);
// the piece a file is read in for its checksum (progress is stamped between pieces)
static constexpr uint64_t CHECK_PIECE = 8ull << 20;
// llama.cpp's part before its state: magic, version, token count
static constexpr uint64_t LLAMA_PREFIX = 3 * sizeof(uint32_t);

// A checksum of the first `length` bytes of `f` (four lanes of a 64-bit multiply-rotate mix over 8-byte
// words: some gigabytes a second, for damage, not for an adversary). False when the file is shorter.
static uint64_t mix(uint64_t h, uint64_t w) {
    h ^= w * 0x9E3779B97F4A7C15ull;
    h = (h << 31) | (h >> 33);
    return h * 0xC2B2AE3D27D4EB4Full;
}

static bool checksum(std::ifstream & f, uint64_t length, uint64_t & out) {
    uint64_t lanes[4] = {1, 2, 3, 4};
    std::vector<char> buf((size_t) std::min<uint64_t>(CHECK_PIECE, length));
    f.clear();
    f.seekg(0);
    for (uint64_t at = 0; at < length;) {
        progressHere();
        const size_t n = (size_t) std::min<uint64_t>(buf.size(), length - at);
        f.read(buf.data(), (std::streamsize) n);
        if (!f) return false;
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            for (int l = 0; l < 4; l++) {
                uint64_t w;
                std::memcpy(&w, buf.data() + i + 8 * l, 8);
                lanes[l] = mix(lanes[l], w);
            }
        }
        for (; i < n; i++) lanes[i % 4] = mix(lanes[i % 4], (uint8_t) buf[i]);
        at += n;
    }
    out = mix(mix(mix(mix(length, lanes[0]), lanes[1]), lanes[2]), lanes[3]);
    return true;
}

static std::string sessionHeader(const Context::State & st) {
    return st.model->fingerprint + "|k=" + ggml_type_name(st.type_k) + "|v=" + ggml_type_name(st.type_v);
}

// A path as the addon gets it (UTF-8): std::filesystem reads it as wide on Windows, where a plain
// std::string path would be read in the ANSI code page (llama.cpp opens its files as UTF-8 too).
static std::filesystem::path fsPath(const std::string & utf8) { return std::filesystem::u8path(utf8); }

void runSave(Context::State & st, Task & t) {
    const auto & toks = st.seq_tokens[t.seq];
    if (toks.empty()) throw HearthError(codes::invalid_argument, "sequence " + std::to_string(t.seq) + " is empty: nothing to save");
    const std::string header = sessionHeader(st);
    const std::string tmp = t.path + ".tmp";
    const auto tmp_path = fsPath(tmp);
    std::error_code ec;
    std::filesystem::remove(tmp_path, ec); // a leftover (or a link planted there) is not written through
    auto fail = [&](const std::string & why) {
        std::filesystem::remove(tmp_path, ec);
        throw HearthError(codes::session_failed, why);
    };
    progressHere();
    size_t written = 0;
    {
        // a long conversation's state can be gigabytes, written in one call: the watchdog gives it the
        // time a slow disk takes (its size is asked of llama.cpp only for that, and costs no copy)
        IoProgress io(llama_state_seq_get_size(st.ctx, t.seq));
        written = llama_state_seq_save_file(st.ctx, tmp.c_str(), t.seq, toks.data(), toks.size());
    }
    progressHere();
    // llama.cpp closes its file without checking the last flush (a full disk): the size tells
    if (written == 0 || std::filesystem::file_size(tmp_path, ec) != written || ec) fail("llama.cpp could not write the sequence to " + tmp + " (see the engine log)");
    uint64_t sum = 0;
    {
        std::ifstream f(tmp_path, std::ios::binary);
        if (!f || !checksum(f, written, sum)) fail("cannot read back " + tmp);
    }
    {
        std::ofstream f(tmp_path, std::ios::binary | std::ios::app);
        if (!f) fail("cannot write " + tmp);
        const uint32_t hl = (uint32_t) header.size();
        const uint64_t ls = written;
        f.write(header.data(), hl);
        f.write((const char *) &hl, 4);
        f.write((const char *) &ls, 8);
        f.write((const char *) &sum, 8);
        f.write(SESSION_MAGIC, sizeof(SESSION_MAGIC));
        f.close(); // its last flush can fail too (a full disk)
        if (f.fail()) fail("write to " + tmp + " failed");
    }
    if (std::filesystem::file_size(tmp_path, ec) != written + header.size() + TRAILER_FIXED || ec) fail("write to " + tmp + " failed");
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
    char magic[8] = {};
    f.read(magic, 8);
    if (f && std::memcmp(magic, SESSION_MAGIC_1, 8) == 0) {
        throw HearthError(codes::session_mismatch, t.path + " was saved by an earlier version of Hearth");
    }
    // the trailer, from the end
    uint32_t hl = 0;
    uint64_t ls = 0, sum = 0;
    if (file_size >= LLAMA_PREFIX + TRAILER_FIXED) {
        f.clear();
        f.seekg((std::streamoff) (file_size - TRAILER_FIXED));
        f.read((char *) &hl, 4);
        f.read((char *) &ls, 8);
        f.read((char *) &sum, 8);
        f.read(magic, 8);
    }
    if (file_size < LLAMA_PREFIX + TRAILER_FIXED || !f || std::memcmp(magic, SESSION_MAGIC, 8) != 0) {
        throw HearthError(codes::session_failed, t.path + " is not a Hearth session file, or it is truncated");
    }
    // the sizes it states must add up to the file's, before anything is read by them
    if (hl > 65536 || ls < LLAMA_PREFIX || ls != file_size - TRAILER_FIXED - hl) throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    std::string header(hl, '\0');
    f.seekg((std::streamoff) ls);
    f.read(header.data(), hl);
    if (!f) throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    const std::string want = sessionHeader(st);
    if (header != want) {
        throw HearthError(codes::session_mismatch, "the session in " + t.path + " was saved for another model or cache type (" + header + "), not this one (" + want + ")");
    }
    // llama.cpp's part: its format, and a token count this context holds and the part has room for
    uint32_t lmagic = 0, lversion = 0, nt = 0;
    f.seekg(0);
    f.read((char *) &lmagic, 4);
    f.read((char *) &lversion, 4);
    f.read((char *) &nt, 4);
    if (!f || lmagic != LLAMA_STATE_SEQ_MAGIC || lversion != LLAMA_STATE_SEQ_VERSION) {
        throw HearthError(codes::session_mismatch, t.path + ": its state is not in this llama.cpp's sequence format");
    }
    if (nt > llama_n_ctx(st.ctx)) throw HearthError(codes::session_mismatch, t.path + ": " + std::to_string(nt) + " tokens do not fit this context");
    if (LLAMA_PREFIX + (uint64_t) nt * sizeof(llama_token) > ls) throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    uint64_t have = 0;
    if (!checksum(f, ls, have) || have != sum) throw HearthError(codes::session_failed, t.path + ": corrupt (its checksum does not match)");
    f.close();
    progressHere();
    llama_memory_t mem = llama_get_memory(st.ctx);
    llama_memory_seq_rm(mem, t.seq, -1, -1);
    st.seq_tokens[t.seq].clear();
    std::vector<llama_token> toks(nt);
    size_t n_read = 0, read = 0;
    {
        IoProgress io(ls);
        read = llama_state_seq_load_file(st.ctx, t.path.c_str(), t.seq, toks.data(), toks.size(), &n_read);
    }
    progressHere();
    // llama.cpp read its part exactly, with the tokens it states
    if (read != ls || n_read != nt) {
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
