// Session files (worker thread): one sequence's tokens and llama.cpp state, behind a header with the
// model's fingerprint, the KV cache types and the llama.cpp build, so a file is restored only where it
// fits:
//
//   [SESSION_MAGIC] [u32 header bytes] [header] [u32 n tokens] [tokens] [u64 state bytes]
//   [u64 state checksum] [state]
//
// The state is what the context's memory module writes of the sequence (llama_memory_i::state_write,
// what llama_state_seq_get_data and llama_state_seq_save_file write after their own prefixes), streamed
// to and from the file through reader and writer of Hearth's own a piece at a time: never the whole
// state in memory (a long context's is gigabytes), and never read past its stated end (llama.cpp's
// file reader reads on past the end of a cut file, then asserts, ending the process; its buffer reader
// needs the whole state in memory). The checksum is read through before the state is handed to
// llama.cpp, which sizes what it allocates by the counts in it; for the formats it knows, the reader
// refuses a field its writer cannot have written in this context (session_fields.h), which the checksum
// (against damage) does not.
#include "session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#ifdef _WIN32
#    include <io.h>
#else
#    include <fcntl.h>
#    include <sys/stat.h>
#    include <unistd.h>
#endif

#include "activity.h"
#include "checksum.h"
#include "kv_space.h"
#include "session_fields.h"
#include "task.h"
#include "util.h"

#include "../src/llama-io.h"     // llama_io_read_i / llama_io_write_i: the memory module's state streams
#include "../src/llama-memory.h" // llama_memory_i::state_read / state_write

namespace hearth {

// ---- sessions (worker thread) ---------------------------------------------------------

static const char SESSION_MAGIC[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '2'};
// what an earlier Hearth wrote (the state copied whole through llama_state_seq_get_data): refused as made elsewhere
static const char SESSION_MAGIC_1[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '1'};
// the most a piece of state is held in memory at once (a layer's keys for all of a long sequence's
// cells can be hundreds of megabytes), in whole rows of the tensor; progress is stamped between pieces.
// Test hook (HEARTH_TEST_HOOKS=1 only): HEARTH_TEST_IO_PIECE=<bytes>, a smaller piece.
static size_t ioPiece() {
    static const size_t piece = [] {
        const char * on = std::getenv("HEARTH_TEST_HOOKS");
        const char * v = std::getenv("HEARTH_TEST_IO_PIECE");
        const long long n = on && std::string(on) == "1" && v ? std::atoll(v) : 0;
        return n > 0 ? (size_t) n : (size_t) 8u << 20;
    }();
    return piece;
}
// Test hook (HEARTH_TEST_HOOKS=1 only): HEARTH_TEST_IO_DELAY_MS=<ms>, a pause before each piece a save
// writes or a restore reads (a slow disk), so that a test can stop something while one runs
static void ioDelay() {
    static const long long ms = [] {
        const char * on = std::getenv("HEARTH_TEST_HOOKS");
        const char * v = std::getenv("HEARTH_TEST_IO_DELAY_MS");
        return on && std::string(on) == "1" && v ? std::atoll(v) : 0LL;
    }();
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}
static size_t pieceOf(const ggml_tensor * t) {
    const size_t row = t->nb[1], piece = ioPiece();
    return row > 0 && row <= piece ? piece - piece % row : piece;
}

static std::string sessionHeader(const Context::State & st) {
    return st.model->fingerprint + "|k=" + ggml_type_name(st.type_k) + "|v=" + ggml_type_name(st.type_v) + "|llama=" + HEARTH_LLAMA_COMMIT;
}

// ---- files --------------------------------------------------------------------------------------

// A path as the addon gets it (UTF-8): std::filesystem reads it as wide on Windows, where a plain
// std::string path would be read in the ANSI code page.
static std::filesystem::path fsPath(const std::string & utf8) { return std::filesystem::u8path(utf8); }

struct FileCloser {
    void operator()(FILE * f) const { if (f) std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

static bool seekTo(FILE * f, uint64_t at) {
#ifdef _WIN32
    return _fseeki64(f, (__int64) at, SEEK_SET) == 0;
#else
    return fseeko(f, (off_t) at, SEEK_SET) == 0;
#endif
}

// `path` opened for reading when it is a regular file, not through a link (POSIX: one open that
// follows no link and waits for no writer, then its descriptor's type, so nothing can be put in its
// place between the check and the read; Windows: the path's type checked first). Its size in `size`.
static File openRegular(const std::string & path, uint64_t & size, std::string & why) {
#ifdef _WIN32
    std::error_code ec;
    const auto p = fsPath(path);
    if (std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::regular) {
        why = "not a regular file";
        return nullptr;
    }
    File f(_wfopen(p.c_str(), L"rb"));
    if (!f) {
        why = "cannot open it";
        return nullptr;
    }
    size = std::filesystem::file_size(p, ec);
    if (ec) {
        why = "cannot read its size";
        return nullptr;
    }
    return f;
#else
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        why = errno == ELOOP ? "not a regular file" : std::string("cannot open it: ") + std::strerror(errno);
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        why = "not a regular file";
        return nullptr;
    }
    size = (uint64_t) st.st_size;
    File f(fdopen(fd, "rb"));
    if (!f) {
        ::close(fd);
        why = "cannot open it";
    }
    return f;
#endif
}

// A new file at `path`, which must not exist (nor a link there).
static File createNew(const std::string & path) {
#ifdef _WIN32
    return File(_wfopen(fsPath(path).c_str(), L"wbx"));
#else
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return nullptr;
    File f(fdopen(fd, "wb"));
    if (!f) ::close(fd);
    return f;
#endif
}

// ---- the memory module's streams ----------------------------------------------------------------

namespace {
// thrown out of a save or restore that was asked to stop (Context::State::aborting); llama.cpp's
// readers may catch it and throw their own, so the streams also remember it (stopped())
struct Stopped {};
} // namespace

// Between two pieces of a tensor a stream moves: throws Stopped (and sets `stopped`) when the work
// running now is to stop, else pauses as the slow-disk test hook asks.
static void betweenPieces(const Context::State & st, bool & stopped) {
    if (st.aborting()) {
        stopped = true;
        throw Stopped{};
    }
    ioDelay();
}

// Writes the state to `f` as the memory module hands it over, a tensor's bytes a piece at a time; any
// failure throws (llama.cpp's state writers throw on theirs too).
class StateWriter : public llama_io_write_i {
public:
    StateWriter(FILE * f, const Context::State & st) : f_(f), st_(st) {}
    void write(const void * src, size_t size) override {
        put((const uint8_t *) src, size);
    }
    void write_tensor(ggml_tensor * tensor, size_t offset, size_t size) override {
        const size_t piece = pieceOf(tensor);
        for (size_t done = 0; done < size;) {
            betweenPieces(st_, stopped_);
            const size_t n = std::min(piece, size - done);
            buf_.resize(n);
            ggml_backend_tensor_get(tensor, buf_.data(), offset + done, n);
            put(buf_.data(), n);
            done += n;
        }
    }
    size_t n_bytes() override { return written_; }
    uint64_t checksum() const { return sum_.final(); }
    bool stopped() const { return stopped_; }

private:
    void put(const uint8_t * p, size_t n) {
        progressHere();
        if (n && std::fwrite(p, 1, n, f_) != n) throw std::runtime_error("write failed");
        sum_.update(p, n);
        written_ += n;
    }
    FILE * f_;
    const Context::State & st_;
    bool stopped_ = false;
    std::vector<uint8_t> buf_;
    Checksum sum_;
    size_t written_ = 0;
};

// Reads the state from `f`, never past `limit` bytes (a read beyond them throws, as llama.cpp's buffer
// reader throws at its buffer's end), a tensor's bytes a piece at a time, and no 4-byte field that
// `fields` refuses (session_fields.h; the refusal is kept, since llama.cpp catches some reads' throws and
// throws its own).
class StateReader : public llama_io_read_i {
public:
    StateReader(FILE * f, uint64_t limit, const StateFields & fields, const Context::State & st) : f_(f), limit_(limit), fields_(fields), st_(st) {}
    void read(void * dst, size_t size) override {
        const bool recurrent_cells = read_ == recurrent_at_;
        get((uint8_t *) dst, size);
        if (size == 4) {
            uint32_t v;
            std::memcpy(&v, dst, 4);
            std::string why = fields_.refuse(v, recurrent_cells);
            if (!why.empty()) {
                refused_ = why;
                throw std::runtime_error(why);
            }
        }
    }
    // a recurrent state's part begins at the next read: its cell count
    void recurrentStarts() { recurrent_at_ = read_; }
    const std::string & refused() const { return refused_; }
    void read_tensor(ggml_tensor * tensor, size_t offset, size_t size) override {
        if (size > limit_ - read_) throw std::runtime_error("the state ends before its data");
        const size_t piece = pieceOf(tensor);
        for (size_t done = 0; done < size;) {
            betweenPieces(st_, stopped_);
            const size_t n = std::min(piece, size - done);
            buf_.resize(n);
            get(buf_.data(), n);
            ggml_backend_tensor_set(tensor, buf_.data(), offset + done, n);
            done += n;
        }
    }
    size_t n_bytes() override { return (size_t) read_; }
    bool stopped() const { return stopped_; }

private:
    void get(uint8_t * p, size_t n) {
        progressHere();
        if (n > limit_ - read_) throw std::runtime_error("the state ends before its data");
        if (n && std::fread(p, 1, n, f_) != n) throw std::runtime_error("read failed");
        read_ += n;
    }
    FILE * f_;
    uint64_t limit_;
    const StateFields & fields_;
    uint64_t recurrent_at_ = UINT64_MAX;
    std::string refused_;
    const Context::State & st_;
    bool stopped_ = false;
    uint64_t read_ = 0;
    std::vector<uint8_t> buf_;
};

// ---- save and restore -------------------------------------------------------------------------------

TaskOutcome runSave(Context::State & st, Task & t) {
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
    llama_memory_t mem = llama_get_memory(st.ctx);
    if (!mem) throw HearthError(codes::session_failed, "this context keeps no state to save");
    {
        File f = createNew(tmp);
        if (!f) fail("cannot write " + tmp);
        const uint32_t hl = (uint32_t) header.size(), nt = (uint32_t) toks.size();
        uint64_t ds = 0, sum = 0;
        bool ok = std::fwrite(SESSION_MAGIC, 1, 8, f.get()) == 8 && std::fwrite(&hl, 4, 1, f.get()) == 1 &&
                  std::fwrite(header.data(), 1, hl, f.get()) == hl && std::fwrite(&nt, 4, 1, f.get()) == 1 &&
                  std::fwrite(toks.data(), sizeof(llama_token), nt, f.get()) == nt;
        const uint64_t sizes_at = 8 + 4 + (uint64_t) hl + 4 + (uint64_t) nt * sizeof(llama_token);
        ok = ok && std::fwrite(&ds, 8, 1, f.get()) == 1 && std::fwrite(&sum, 8, 1, f.get()) == 1;
        if (!ok) {
            f.reset();
            fail("write to " + tmp + " failed");
        }
        llama_synchronize(st.ctx);
        StateWriter w(f.get(), st);
        try {
            mem->state_write(w, t.seq, 0);
        } catch (const Stopped &) {
        } catch (const std::exception & e) {
            if (!w.stopped()) {
                f.reset();
                fail(std::string("the sequence could not be written to ") + tmp + ": " + e.what());
            }
        }
        if (w.stopped()) {
            // between two pieces: the file so far goes
            f.reset();
            std::filesystem::remove(tmp_path, ec);
            if (t.aborted || st.closing) throw HearthError(codes::aborted, "the save was stopped");
            return TaskOutcome::Preempted;
        }
        ds = w.n_bytes();
        sum = w.checksum();
        ok = seekTo(f.get(), sizes_at) && std::fwrite(&ds, 8, 1, f.get()) == 1 && std::fwrite(&sum, 8, 1, f.get()) == 1;
        // its last flush can fail too (a full disk)
        ok = std::fflush(f.get()) == 0 && ok;
        FILE * raw = f.release();
        ok = std::fclose(raw) == 0 && ok;
        if (!ok) fail("write to " + tmp + " failed");
    }
    // replaces the file before it, on Windows too (std::rename refuses an existing one there)
    std::filesystem::rename(tmp_path, fsPath(t.path), ec);
    if (ec) fail("cannot rename " + tmp + " to " + t.path + ": " + ec.message());
    t.sessionTokens = (int) toks.size();
    return TaskOutcome::Done;
}

// A session file's start, read from `f` (at its start): its magic, header and token count.
struct SessionPrefix {
    bool earlier = false; // HEARTHS1: an earlier version's (nothing after the magic is read)
    std::string header;
    uint32_t nt = 0;
};
enum class PrefixRead { Read, NotSession, CorruptHeader, Truncated };
static PrefixRead readPrefix(FILE * f, SessionPrefix & p) {
    char magic[8];
    if (std::fread(magic, 1, 8, f) != 8 || (std::memcmp(magic, SESSION_MAGIC, 8) != 0 && std::memcmp(magic, SESSION_MAGIC_1, 8) != 0)) return PrefixRead::NotSession;
    p.earlier = std::memcmp(magic, SESSION_MAGIC_1, 8) == 0;
    if (p.earlier) return PrefixRead::Read;
    uint32_t hl = 0;
    if (std::fread(&hl, 4, 1, f) != 1 || hl > 65536) return PrefixRead::CorruptHeader;
    p.header.assign(hl, '\0');
    if ((hl && std::fread(p.header.data(), 1, hl, f) != hl) || std::fread(&p.nt, 4, 1, f) != 1) return PrefixRead::Truncated;
    return PrefixRead::Read;
}

int64_t sessionFileTokens(const std::string & path, uint64_t & size) {
    std::string why;
    File f = openRegular(path, size, why);
    SessionPrefix p;
    if (!f || readPrefix(f.get(), p) != PrefixRead::Read || p.earlier) return -1;
    return p.nt;
}

TaskOutcome runRestore(Context::State & st, Task & t, bool side) {
    uint64_t file_size = 0;
    std::string why;
    File f = openRegular(t.path, file_size, why);
    if (!f) throw HearthError(codes::session_failed, "cannot open session file " + t.path + " (" + why + ")");
    auto readAll = [&](void * dst, size_t n) { return n == 0 || std::fread(dst, 1, n, f.get()) == n; };
    SessionPrefix prefix;
    switch (readPrefix(f.get(), prefix)) {
        case PrefixRead::Read: break;
        case PrefixRead::NotSession: throw HearthError(codes::session_failed, t.path + " is not a Hearth session file");
        case PrefixRead::CorruptHeader: throw HearthError(codes::session_failed, t.path + ": corrupt header");
        case PrefixRead::Truncated: throw HearthError(codes::session_failed, t.path + ": truncated");
    }
    if (prefix.earlier) throw HearthError(codes::session_mismatch, t.path + " was saved by an earlier version of Hearth");
    const std::string want = sessionHeader(st);
    if (prefix.header != want) {
        throw HearthError(codes::session_mismatch, "the session in " + t.path + " was saved for another model, cache type or llama.cpp (" + prefix.header + "), not this one (" + want + ")");
    }
    const uint32_t nt = prefix.nt;
    const uint64_t hl = prefix.header.size();
    if (nt == 0) throw HearthError(codes::session_failed, t.path + ": it holds no tokens");
    if (nt > llama_n_ctx(st.ctx)) throw HearthError(codes::session_mismatch, t.path + ": " + std::to_string(nt) + " tokens do not fit this context");
    // the sizes it states must add up to the file's, before anything is allocated by them
    const uint64_t state_at = 8 + 4 + hl + 4 + (uint64_t) nt * sizeof(llama_token) + 16;
    if (file_size < state_at) throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    std::vector<llama_token> toks(nt);
    uint64_t ds = 0, sum = 0;
    if (!readAll(toks.data(), (size_t) nt * sizeof(llama_token)) || !readAll(&ds, 8) || !readAll(&sum, 8) || ds != file_size - state_at) {
        throw HearthError(codes::session_failed, t.path + ": truncated or corrupt");
    }
    // the state read through once for its checksum, before llama.cpp sizes anything by it (a stop asked
    // meanwhile ends it between pieces, before anything changed)
    {
        Checksum have;
        std::vector<uint8_t> buf((size_t) std::min<uint64_t>(ioPiece(), ds));
        for (uint64_t at = 0; at < ds;) {
            progressHere();
            if (st.aborting()) {
                if (t.aborted || st.closing) throw HearthError(codes::aborted, "the restore was stopped");
                return TaskOutcome::Preempted;
            }
            ioDelay();
            const size_t n = (size_t) std::min<uint64_t>(buf.size(), ds - at);
            if (!readAll(buf.data(), n)) throw HearthError(codes::session_failed, t.path + ": truncated");
            have.update(buf.data(), n);
            at += n;
        }
        if (have.final() != sum) throw HearthError(codes::session_failed, t.path + ": corrupt (its checksum does not match)");
    }
    if (!seekTo(f.get(), state_at)) throw HearthError(codes::session_failed, "cannot read " + t.path);
    progressHere();
    llama_memory_t mem = llama_get_memory(st.ctx);
    if (!mem) throw HearthError(codes::session_failed, "this context keeps no state to restore");
    llama_synchronize(st.ctx);
    llama_memory_seq_rm(mem, t.seq, -1, -1);
    st.seq_tokens[t.seq].clear();
    // alone, every other sequence is idle: their cached cells make room for it as for a decode (beside
    // running generations, the room was there before it started: worker.cpp restoreBeside)
    if (!side) kvMakeRoom(st, std::vector<bool>((size_t) st.n_seq, false), (int) nt);
    const StateFields fields = stateFields(st, *mem);
    StateReader r(f.get(), ds, fields, st);
    std::string rejected;
    try {
        readState(*mem, r, t.seq, [&] { r.recurrentStarts(); });
        if (r.n_bytes() != ds) rejected = "the state holds more than llama.cpp read";
    } catch (const Stopped &) {
    } catch (const std::exception & e) {
        rejected = e.what();
    }
    if (r.stopped()) {
        // between two pieces of a tensor: what was restored goes
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        if (t.aborted || st.closing) throw HearthError(codes::aborted, "the restore was stopped");
        return TaskOutcome::Preempted;
    }
    if (!rejected.empty()) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        // beside running generations llama.cpp may have lacked the room, which a restore alone makes; a
        // field Hearth refuses is refused alone too
        if (side && r.refused().empty()) return TaskOutcome::Refused;
        if (!r.refused().empty()) throw HearthError(codes::session_mismatch, t.path + ": Hearth refused the saved state: " + r.refused() + " (it is damaged, or was not written by this Hearth)");
        throw HearthError(codes::session_mismatch, t.path + ": llama.cpp rejected the saved state for this context (" + rejected + ")");
    }
    // the token list must describe the restored cells (one per position up to the last), or the next
    // decode on this sequence fails. Every position is restored for a plain model; llama.cpp saves only
    // the last window of a sliding-window cache (masked cells are left out, with swaFull too: the window
    // check in generation.cpp then decides what is reusable) and one cell of a recurrent state.
    const llama_model * model = st.model->model;
    const bool every_position = llama_model_n_swa(model) == 0 && !llama_model_is_recurrent(model) && !llama_model_is_hybrid(model);
    const llama_pos pos_min = llama_memory_seq_pos_min(mem, t.seq);
    if (llama_memory_seq_pos_max(mem, t.seq) + 1 != (llama_pos) nt || pos_min < 0 || (every_position && pos_min > 0)) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError(codes::session_mismatch, t.path + ": the saved state does not match its " + std::to_string(nt) + " tokens");
    }
    st.seq_tokens[t.seq] = std::move(toks);
    t.sessionTokens = (int) nt;
    return TaskOutcome::Done;
}

} // namespace hearth
