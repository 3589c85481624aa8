#include "errors.h"

#include <cstring>
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

void noteLogLine(ggml_log_level level, const char * text) {
    if (!t_watch || level != GGML_LOG_LEVEL_ERROR || !text) return;
    // the words of ggml's and llama.cpp's allocation failures: a CPU buffer (ggml_aligned_malloc,
    // ggml_backend_cpu_buffer_type_alloc_buffer), a graph or compute buffer (ggml-alloc, llama_context),
    // the KV cache, a model's weights ("unable to allocate CUDA0 buffer"), cudaMalloc's "out of memory"
    static const char * const words[] = {"failed to allocate", "unable to allocate", "insufficient memory", "out of memory"};
    for (const char * w : words) {
        if (std::strstr(text, w)) {
            t_watch->failed_ = true;
            return;
        }
    }
}

} // namespace hearth
