// Shared pieces of the addon: a promise-returning runner for work on a worker thread, and helpers for
// reading options. The errors (HearthError, wrap) are in errors.h.
#pragma once

#include <napi.h>

#include "errors.h"
#include "ggml-backend.h"

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hearth {

// Bytes per device, system RAM under a host device (the CPU's): what a vision projector or LoRA
// adapters take where (memory.cpp places them beside a model's own).
using DeviceBytes = std::map<ggml_backend_dev_t, size_t>;

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
    std::optional<Failure> failure_;
};

// After freeing a model or context: hands the C library's free memory back to the system (glibc keeps
// freed heap in its arenas, so the process's resident memory would still count the weights); elsewhere
// nothing.
void returnFreedMemory();

// "cpu", "gpu", "igpu", "accel" or "other"
const char * deviceTypeName(enum ggml_backend_dev_type t);

// a string's length in UTF-16 code units, as JavaScript (and zod) count it: the bounds main/params sets
size_t jsLength(const std::string & s);

// `s` with each ill-formed part replaced by U+FFFD, as JavaScript decodes UTF-8 (the WHATWG decoder's
// maximal subparts): a model's byte tokens can write bytes that are no UTF-8, and llama.cpp's chat
// parser fails on them, so what it parses is the text the app will read anyway
std::string validUtf8(std::string s);

// A file's identity as the file system gives it (its device and inode, its size, when it was written and
// when it changed), or empty when it cannot be told (on Windows): what a cache of a file's facts is kept
// by. Not the path: the host names a model and its projector by descriptors (/proc/self/fd/N), whose
// numbers other files take later.
std::string fileIdentity(const std::string & path);

// helpers for reading options objects
double      optNumber(const Napi::Object & o, const char * key, double def);
bool        optBool(const Napi::Object & o, const char * key, bool def);
std::string optString(const Napi::Object & o, const char * key, const std::string & def);
// an array of strings under `key` (absent, undefined or null: empty); another value throws HearthError(invalid_argument)
std::vector<std::string> optStrings(const Napi::Object & o, const char * key);
// `o` without the keys `drop`: the host's names of files it opened (not load parameters) taken out of them
Napi::Object withoutKeys(Napi::Env env, const Napi::Object & o, std::initializer_list<const char *> drop);

} // namespace hearth
