// How the addon fails: the error type with a code from error_codes.h, the one mapping of whatever native
// work throws to a code (failureOf), and the one place that turns it into a JS exception (wrap).
#pragma once

#include <napi.h>

#include "error_codes.h"
#include "ggml.h"

#include <stdexcept>
#include <string>

namespace hearth {

// Every failure the addon reports carries a stable code that JS code can switch on (error_codes.h; what
// each means is in main/errors/catalogue.ts).
class HearthError : public std::runtime_error {
public:
    HearthError(Code code, const std::string & message) : std::runtime_error(message), code_(code) {}
    Code code() const { return code_; }

private:
    Code code_;
};

Napi::Error makeError(Napi::Env env, Code code, const std::string & message);

// What a failure of native work is reported as.
struct Failure {
    Code code;
    std::string message;
};

// The exception being handled (call it inside a catch block) as a Failure: a HearthError keeps its code,
// std::bad_alloc is out_of_memory, any other exception internal.
Failure currentFailure();

// Runs `fn` on the JS thread; what it throws leaves as a JS exception with its code (currentFailure). A
// Napi::Error (already a JS exception, e.g. makeError's) passes through as it is.
template <typename F> auto wrap(Napi::Env env, F && fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const Napi::Error &) {
        throw;
    } catch (...) {
        Failure f = currentFailure();
        throw makeError(env, f.code, f.message);
    }
}

// A module function run through wrap(), for Napi::Function::New(env, guard<Fn>): every entry point of the
// addon is guarded, so no exception from native code ends the process (node-addon-api lets only
// Napi::Error through; anything else would reach std::terminate).
template <Napi::Value (*F)(const Napi::CallbackInfo &)> Napi::Value guard(const Napi::CallbackInfo & info) {
    return wrap(info.Env(), [&] { return F(info); });
}

// The same for the methods of an ObjectWrap class T that also derives from Guarded<T>: it registers
// InstanceMethod("name", &T::template guarded<&T::Name>).
template <typename T> struct Guarded {
    template <Napi::Value (T::*M)(const Napi::CallbackInfo &)> Napi::Value guarded(const Napi::CallbackInfo & info) {
        return wrap(info.Env(), [&] { return (static_cast<T *>(this)->*M)(info); });
    }
};

// What a failed llama_decode (its return code) is reported as: -2 with an allocation failure logged during
// the call (an AllocationWatch around it: a compute graph, an output buffer, the KV memory) is
// out_of_memory; -2 also covers a failed compute or a cache that could not be updated, and those, like any
// other failure, are decode_failed.
inline Code decodeFailure(int rc, bool allocation_failed) {
    return rc == -2 && allocation_failed ? codes::out_of_memory : codes::decode_failed;
}

// Notes, on this thread and while it lives, whether llama.cpp or ggml logged an allocation failure, and
// the first and last ERROR lines logged. llama.cpp reports why a model or context could not be made only
// in its log (llama_model_load_from_file and llama_init_from_model return null for any failure), so an
// allocation failure (out_of_memory) is told apart from the rest (load_failed, context_failed) this way,
// and the rest say why with those lines (failedBecause). Only the innermost watch of a thread notes.
class AllocationWatch {
public:
    AllocationWatch();
    ~AllocationWatch();
    AllocationWatch(const AllocationWatch &) = delete;
    AllocationWatch & operator=(const AllocationWatch &) = delete;
    bool failed() const { return failed_; }
    // the last ERROR line logged meanwhile (why an adapter did not load, say), "" when none
    const std::string & lastError() const { return last_error_; }
    // the first one: the cause, where llama.cpp logs a general line after it ("failed to load model")
    const std::string & firstError() const { return first_error_; }

private:
    bool failed_ = false;
    std::string last_error_;
    std::string first_error_;
    AllocationWatch * outer_;
    friend void noteLogLine(ggml_log_level level, const char * text);
};

// A llama.cpp log line as a reason to show: without the function's name before it ("llama_model_load: "),
// the words that only say something failed ("error loading model: ") and the line's end; at most 300
// bytes, with control characters and bidirectional overrides escaped (its words may be a model file's,
// and they reach the UI, the command line and the API server); "" stays "".
std::string logReason(std::string line);

// What to add to "llama.cpp could not load X" once a watched call failed: ": <its first ERROR line's
// reason> (see the engine log)", else " (<otherwise>; see the engine log)", else " (see the engine log)".
std::string failedBecause(const AllocationWatch & watch, const std::string & otherwise = "");

// Whether a log line is ggml's or llama.cpp's report of an allocation failure (not words it quotes).
bool isAllocationFailure(const char * text);

// The addon's log callback passes every llama.cpp/ggml log line here first.
void noteLogLine(ggml_log_level level, const char * text);

} // namespace hearth
