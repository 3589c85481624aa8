#include "errors.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <exception>
#include <new>

namespace hearth {

Napi::Error makeError(Napi::Env env, Code code, const std::string & message) {
    Napi::Error err = Napi::Error::New(env, message);
    err.Value().Set("code", Napi::String::New(env, code.name()));
    return err;
}

Failure currentFailure() {
    try {
        throw;
    } catch (const HearthError & e) {
        return {e.code(), e.what()};
    } catch (const std::bad_alloc & e) {
        return {codes::out_of_memory, std::string("out of memory (") + e.what() + ")"};
    } catch (const std::exception & e) {
        return {codes::internal, e.what()};
    } catch (...) {
        return {codes::internal, "unknown native exception"};
    }
}

// the innermost watch of this thread (llama.cpp logs on the thread that calls it)
static thread_local AllocationWatch * t_watch = nullptr;

AllocationWatch::AllocationWatch() : outer_(t_watch) {
    t_watch = this;
}

AllocationWatch::~AllocationWatch() {
    t_watch = outer_;
}

namespace {

// A log line without its end, and its message: what follows the function's name ("llama_model_load: ")
// and the words that only say something failed ("error loading model: ", "error: ", "failed to apply
// lora adapter: "). `named`: whether the line began with a function's name.
struct LogMessage {
    std::string line, message;
    bool named = false;
};

LogMessage splitLogLine(std::string line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
    LogMessage m;
    size_t i = 0;
    while (i < line.size() && (std::isalnum((unsigned char) line[i]) || line[i] == '_')) i++;
    m.named = i > 0 && line.compare(i, 2, ": ") == 0;
    m.message = m.named ? line.substr(i + 2) : line;
    for (const char * lead : {"error loading model: ", "error: ", "failed to apply lora adapter: "}) {
        if (m.message.rfind(lead, 0) == 0) m.message = m.message.substr(std::strlen(lead));
    }
    m.line = std::move(line);
    return m;
}

// At most this many bytes of a log line's message go into an error (its words may be a model file's).
constexpr size_t MAX_REASON = 300;

// `s` fit to show on one line anywhere (a terminal, the UI, a JSON error): at most MAX_REASON bytes, cut
// between characters with "…"; control characters, C1 controls and bidirectional overrides written as
// \xNN / \uNNNN (line separators too), so a model file's text cannot move the cursor, end the line or
// reorder what follows.
std::string printable(const std::string & s) {
    std::string out;
    char buf[8];
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = (unsigned char) s[i];
        const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        bool whole = i + len <= s.size();
        for (size_t k = 1; whole && k < len; k++) whole = ((unsigned char) s[i + k] & 0xC0) == 0x80;
        // UTF-8's ranges for the second byte: no overlong form, no surrogate, nothing past U+10FFFF
        const unsigned char b1 = whole && len > 1 ? (unsigned char) s[i + 1] : 0;
        whole = whole && !(c == 0xE0 && b1 < 0xA0) && !(c == 0xED && b1 > 0x9F) && !(c == 0xF0 && b1 < 0x90) && !(c == 0xF4 && b1 > 0x8F);
        std::string piece = s.substr(i, len);
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xC2) || c >= 0xF5 || !whole) {
            snprintf(buf, sizeof buf, "\\x%02x", c); // a control character, or a byte that starts no character
            piece = buf;
            i += 1;
        } else {
            const unsigned char c1 = len > 1 ? (unsigned char) s[i + 1] : 0, c2 = len > 2 ? (unsigned char) s[i + 2] : 0;
            const bool c1_control = c == 0xC2 && c1 >= 0x80 && c1 <= 0x9F;
            const bool bidi = c == 0xE2 && ((c1 == 0x80 && c2 >= 0xA8 && c2 <= 0xAE) || (c1 == 0x81 && c2 >= 0xA6 && c2 <= 0xA9));
            if (c1_control || bidi) {
                const unsigned cp = c1_control ? c1 : c1 == 0x80 ? 0x2000 + (c2 - 0x80) : 0x2040 + (c2 - 0x80);
                snprintf(buf, sizeof buf, "\\u%04x", cp);
                piece = buf;
            }
            i += len;
        }
        if (out.size() + piece.size() > MAX_REASON) return out + "\xE2\x80\xA6"; // "…" in UTF-8 whatever the compiler's charset
        out += piece;
    }
    return out;
}

} // namespace

// Whether an ERROR line is one of ggml's or llama.cpp's allocation failures. Only the line's own words
// count, never text it quotes from a model file (an architecture named "out of memory"): after the
// function's name ("ggml_aligned_malloc: ", "llama_model_load: error loading model: "), the message must
// begin with the failure: a CPU buffer (ggml_aligned_malloc, ..._alloc_buffer), a graph or compute
// buffer (ggml-alloc, llama_context), the KV cache, a model's weights ("unable to allocate CUDA0
// buffer"); or be CUDA's own report ("CUDA error: out of memory", "...: cudaMalloc failed: out of memory").
bool isAllocationFailure(const char * text) {
    const LogMessage m = splitLogLine(text);
    const std::string & line = m.line;
    auto ends = [&](const char * tail) {
        const size_t n = std::strlen(tail);
        return line.size() >= n && line.compare(line.size() - n, n, tail) == 0;
    };
    if (line == "CUDA error: out of memory" || ends(": cudaMalloc failed: out of memory")) return true;
    if (!m.named) return false;
    // (a host allocation llama.cpp caught and logged: "error loading model: std::bad_alloc", "mmap failed:
    // Cannot allocate memory")
    for (const char * w : {"failed to allocate", "unable to allocate", "insufficient memory", "std::bad_alloc", "mmap failed: Cannot allocate memory"}) {
        if (m.message.rfind(w, 0) == 0) return true;
    }
    return false;
}

std::string logReason(std::string line) {
    return printable(splitLogLine(std::move(line)).message);
}

std::string failedBecause(const AllocationWatch & watch, const std::string & otherwise) {
    const std::string why = logReason(watch.firstError());
    if (!why.empty()) return ": " + why + " (see the engine log)";
    return otherwise.empty() ? " (see the engine log)" : " (" + otherwise + "; see the engine log)";
}

void noteLogLine(ggml_log_level level, const char * text) {
    if (!t_watch || level != GGML_LOG_LEVEL_ERROR || !text) return;
    t_watch->last_error_ = text;
    if (t_watch->first_error_.empty()) t_watch->first_error_ = text;
    if (isAllocationFailure(text)) t_watch->failed_ = true;
}

} // namespace hearth
