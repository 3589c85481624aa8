// Shared pieces of the addon: the error type with a code, the one place errors become JS
// exceptions, and a promise-returning runner for work on a worker thread.
#pragma once

#include <napi.h>

#include "ggml-backend.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace hearth {

// Every failure the addon reports carries a stable code that JS code can switch on.
//   invalid_argument  bad parameters, rejected before anything is loaded
//   load_failed       llama.cpp could not load the model (missing file, malformed GGUF, ...)
//   context_failed    llama.cpp could not create a context (e.g. out of memory)
//   context_overflow  the prompt does not fit in the context
//   aborted           the caller cancelled the operation
//   decode_failed     llama_decode failed (for a generation: on its own, after a failed shared batch was retried run by run)
//   sampling_failed   the sampler or grammar failed for one generation (the others in the batch go on)
//   session_mismatch  a saved session belongs to another model or context
//   session_failed    a session file could not be read or written
//   disposed          the object was already disposed
//   not_supported     the model/context cannot do this (e.g. embeddings on a non-embedding context)
//   backend_failed    a ggml backend module could not be opened or loaded
//   internal          anything else
class HearthError : public std::runtime_error {
public:
    HearthError(std::string code, const std::string & message) : std::runtime_error(message), code_(std::move(code)) {}
    const std::string & code() const { return code_; }

private:
    std::string code_;
};

Napi::Error makeError(Napi::Env env, const std::string & code, const std::string & message);

// Runs `work` on the libuv thread pool and settles a promise with `done(env)` or the error.
class AsyncTask : public Napi::AsyncWorker {
public:
    using Work = std::function<void()>;
    using Done = std::function<Napi::Value(Napi::Env)>;

    static Napi::Promise run(Napi::Env env, Work work, Done done);

protected:
    void Execute() override;
    void OnOK() override;
    void OnError(const Napi::Error & e) override;

private:
    AsyncTask(Napi::Env env, Work work, Done done);
    Napi::Promise::Deferred deferred_;
    Work work_;
    Done done_;
    std::string code_;
    std::string message_;
    bool failed_ = false;
};

// "cpu", "gpu", "igpu", "accel" or "other"
const char * deviceTypeName(enum ggml_backend_dev_type t);

// helpers for reading options objects
double      optNumber(const Napi::Object & o, const char * key, double def);
bool        optBool(const Napi::Object & o, const char * key, bool def);
std::string optString(const Napi::Object & o, const char * key, const std::string & def);

} // namespace hearth
