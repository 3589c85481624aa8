#include "errors.h"

#include <cctype>
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

// Whether an ERROR line is one of ggml's or llama.cpp's allocation failures. Only the line's own words
// count, never text it quotes from a model file (an architecture named "out of memory"): after the
// function's name ("ggml_aligned_malloc: ", "llama_model_load: error loading model: "), the message must
// begin with the failure: a CPU buffer (ggml_aligned_malloc, ..._alloc_buffer), a graph or compute
// buffer (ggml-alloc, llama_context), the KV cache, a model's weights ("unable to allocate CUDA0
// buffer"); or be CUDA's own report ("CUDA error: out of memory", "...: cudaMalloc failed: out of memory").
bool isAllocationFailure(const char * text) {
    std::string line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
    auto ends = [&](const char * tail) {
        const size_t n = std::strlen(tail);
        return line.size() >= n && line.compare(line.size() - n, n, tail) == 0;
    };
    if (line == "CUDA error: out of memory" || ends(": cudaMalloc failed: out of memory")) return true;
    // skip "<identifier>: ", then an optional "error loading model: " / "error: "
    size_t i = 0;
    while (i < line.size() && (std::isalnum((unsigned char) line[i]) || line[i] == '_')) i++;
    if (i == 0 || line.compare(i, 2, ": ") != 0) return false;
    std::string rest = line.substr(i + 2);
    for (const char * lead : {"error loading model: ", "error: "}) {
        if (rest.rfind(lead, 0) == 0) rest = rest.substr(std::strlen(lead));
    }
    // (a host allocation llama.cpp caught and logged: "error loading model: std::bad_alloc", "mmap failed:
    // Cannot allocate memory")
    for (const char * w : {"failed to allocate", "unable to allocate", "insufficient memory", "std::bad_alloc", "mmap failed: Cannot allocate memory"}) {
        if (rest.rfind(w, 0) == 0) return true;
    }
    return false;
}

std::string logReason(std::string line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t i = 0;
    while (i < line.size() && (std::isalnum((unsigned char) line[i]) || line[i] == '_')) i++;
    if (i > 0 && line.compare(i, 2, ": ") == 0) line = line.substr(i + 2);
    for (const char * lead : {"error loading model: ", "failed to apply lora adapter: "}) {
        if (line.rfind(lead, 0) == 0) line = line.substr(std::strlen(lead));
    }
    return line;
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
