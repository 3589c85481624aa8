// Module entry: backends, devices, logging, and the Model / Context classes.
#include <napi.h>

#ifdef _WIN32
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    ifndef NOMINMAX
#        define NOMINMAX
#    endif
#    include <windows.h>
#else
#    include <dlfcn.h>
#endif

#include <cstdio>
#include <mutex>
#include <string>

#include "activity.h"
#include "context.h"
#include "ggml-backend.h"
#include "llama.h"
#include "llama_gate.h"
#include "openmp_team.h"
#include "log.h"
#include "memory.h"
#include "model.h"
#include "mtmd-helper.h"
#include "params.h"
#include "prompt_tokens.h"
#include "rpc.h"
#include "sampler.h"
#include "util.h"

using namespace hearth;

namespace {

std::mutex g_log_mu;
Napi::ThreadSafeFunction g_log;
bool g_log_set = false;
unsigned g_log_gen = 0; // which setLogger call g_log came from
int g_stderr_level = GGML_LOG_LEVEL_ERROR; // before setLogger: only errors, and to stderr (never stdout)
bool g_initialized = false;

const char * levelName(ggml_log_level level) {
    switch (level) {
        case GGML_LOG_LEVEL_DEBUG: return "debug";
        case GGML_LOG_LEVEL_INFO: return "info";
        case GGML_LOG_LEVEL_WARN: return "warn";
        case GGML_LOG_LEVEL_ERROR: return "error";
        case GGML_LOG_LEVEL_CONT: return "cont";
        default: return "info";
    }
}

void logCallback(ggml_log_level level, const char * text, void *) {
    noteLogLine(level, text); // an allocation failure on this thread (errors.h AllocationWatch)
    llamaGateNoteLog();
    std::lock_guard<std::mutex> lock(g_log_mu);
    if (g_log_set) {
        auto * payload = new std::pair<std::string, std::string>(levelName(level), text ? text : "");
        g_log.NonBlockingCall(payload, [](Napi::Env env, Napi::Function fn, std::pair<std::string, std::string> * p) {
            std::string lvl = std::move(p->first), msg = std::move(p->second);
            delete p;
            // a line queued while the process exits arrives when JS can no longer run: drop it
            try {
                if (fn) fn.Call({Napi::String::New(env, lvl), Napi::String::New(env, msg)});
            } catch (const Napi::Error &) {
            }
        });
        return;
    }
    if (level >= g_stderr_level && level != GGML_LOG_LEVEL_CONT && text) fputs(text, stderr);
}

// backendScore(path) -> the score a ggml backend module gives this machine (ggml_backend_score, as
// ggml_backend_load_best reads it): 0 when the module refuses this CPU, higher for a better fit, -1
// when the module exports no score. Throws backend_failed when the module cannot be opened. The
// module is opened the way ggml opens it (RTLD_NOW | RTLD_LOCAL) and closed again, so scoring every
// CPU variant leaves only the one chosen for init() loaded.
Napi::Value BackendScore(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "backendScore(path) needs a path");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    using score_fn = int (*)();
    int score = -1;
#ifdef _WIN32
    int n = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
    std::wstring wpath(n > 0 ? n : 1, L'\0');
    if (n > 0) MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, wpath.data(), n);
    UINT old_mode = SetErrorMode(SEM_FAILCRITICALERRORS);
    SetErrorMode(old_mode | SEM_FAILCRITICALERRORS);
    HMODULE h = LoadLibraryW(wpath.c_str());
    DWORD err = h ? 0 : GetLastError();
    SetErrorMode(old_mode);
    if (!h) throw makeError(env, codes::backend_failed, "could not open backend " + path + " (error " + std::to_string(err) + ")");
    auto fn = reinterpret_cast<score_fn>(reinterpret_cast<void *>(GetProcAddress(h, "ggml_backend_score")));
    if (fn) score = fn();
    FreeLibrary(h);
#else
    void * h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char * why = dlerror();
        throw makeError(env, codes::backend_failed, "could not open backend " + path + ": " + (why ? why : "unknown error"));
    }
    auto fn = reinterpret_cast<score_fn>(dlsym(h, "ggml_backend_score"));
    if (fn) score = fn();
    dlclose(h);
#endif
    return Napi::Number::New(env, score);
}

// init({ backendDir }) loads the ggml backend modules found in backendDir (GGML_BACKEND_DL).
Napi::Value Init(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    if (!g_initialized) {
        LlamaUse use(LlamaUseKind::js); // loading backends logs
        std::string dir = optString(o, "backendDir", "");
        Napi::Value only = o.Get("backends");
        if (only.IsArray()) {
            // load exactly these backend modules (file paths, one per backend: the caller picks the best
            // CPU variant with backendScore), e.g. to pin a backend
            Napi::Array arr = only.As<Napi::Array>();
            for (uint32_t i = 0; i < arr.Length(); i++) {
                std::string p = arr.Get(i).ToString().Utf8Value();
                if (!ggml_backend_load(p.c_str())) throw makeError(env, codes::backend_failed, "could not load backend " + p);
            }
        } else if (!dir.empty()) {
            ggml_backend_load_all_from_path(dir.c_str());
        } else {
            ggml_backend_load_all();
        }
        llama_backend_init();
        findOpenmpRuntime(); // the CPU backend's OpenMP runtime, now loaded (openmp_team.h)
        g_initialized = true;
    }
    return env.Undefined();
}

// setLogger(fn(level, text)) forwards llama.cpp and ggml logs; setLogger(null) stops forwarding.
Napi::Value SetLogger(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(g_log_mu);
    if (g_log_set) {
        g_log.Release();
        g_log_set = false;
    }
    if (info.Length() > 0 && info[0].IsFunction()) {
        // when Node closes the function (the environment's teardown), nothing may call it any more
        const unsigned gen = ++g_log_gen;
        g_log = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "hearth.log", 0, 1, [gen](Napi::Env) {
            std::lock_guard<std::mutex> lock(g_log_mu);
            if (g_log_gen == gen) g_log_set = false;
        });
        g_log.Unref(env); // logging alone must not keep the process alive
        g_log_set = true;
    }
    return env.Undefined();
}


// devices() -> [{ backend, name, description, type, memoryTotal, memoryFree, gpuIndex? }]: gpuIndex is
// the number llama.cpp gives the device for main_gpu and tensor_split (llamaGpus), on the GPUs it uses
Napi::Value Devices(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    LlamaUse use(LlamaUseKind::js); // a backend may log while it reads its memory (llama_gate.h)
    const std::vector<ggml_backend_dev_t> gpus = llamaGpus();
    size_t n = ggml_backend_dev_count();
    Napi::Array arr = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        size_t free = 0, total = 0;
        ggml_backend_dev_memory(d, &free, &total);
        Napi::Object o = Napi::Object::New(env);
        o.Set("backend", ggml_backend_reg_name(ggml_backend_dev_backend_reg(d)));
        o.Set("name", ggml_backend_dev_name(d));
        o.Set("description", ggml_backend_dev_description(d));
        o.Set("type", deviceTypeName(ggml_backend_dev_type(d)));
        o.Set("memoryTotal", (double) total);
        o.Set("memoryFree", (double) free);
        for (size_t g = 0; g < gpus.size(); g++) {
            if (gpus[g] == d) o.Set("gpuIndex", (double) g);
        }
        arr.Set((uint32_t) i, o);
    }
    return arr;
}

Napi::Value Backends(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    size_t n = ggml_backend_reg_count();
    Napi::Array arr = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) arr.Set((uint32_t) i, ggml_backend_reg_name(ggml_backend_reg_get(i)));
    return arr;
}

Napi::Value SystemInfo(const Napi::CallbackInfo & info) {
    LlamaUse use(LlamaUseKind::js);
    return Napi::String::New(info.Env(), llama_print_system_info());
}

// llamaGate() -> { fits, waited, foreignLogs }: what the gate around llama.cpp's fitting has seen
// (llama_gate.h); foreignLogs counts log lines from other threads during a fit and must stay 0
Napi::Value LlamaGate(const Napi::CallbackInfo & info) {
    LlamaGateStats s = llamaGateStats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("fits", (double) s.fits);
    o.Set("waited", (double) s.waited);
    o.Set("foreignLogs", (double) s.foreign_logs);
    return o;
}

// validUtf8(Buffer) -> Buffer: the bytes with each ill-formed part as U+FFFD (util.h); for the tests
Napi::Value ValidUtf8(const Napi::CallbackInfo & info) {
    if (info.Length() < 1 || !info[0].IsBuffer()) throw makeError(info.Env(), codes::invalid_argument, "validUtf8(bytes): a Buffer");
    Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
    const std::string out = validUtf8(std::string(b.Data(), b.Length()));
    return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
    installLogger();
    common_log_pause(common_log_main()); // common's own log is for CLI tools; llama's log is forwarded
    exports.Set("llamaCommit", Napi::String::New(env, HEARTH_LLAMA_COMMIT));
    exports.Set("backendScore", Napi::Function::New(env, guard<BackendScore>));
    exports.Set("init", Napi::Function::New(env, guard<Init>));
    exports.Set("setLogger", Napi::Function::New(env, guard<SetLogger>));
    exports.Set("devices", Napi::Function::New(env, guard<Devices>));
    exports.Set("backends", Napi::Function::New(env, guard<Backends>));
    exports.Set("systemInfo", Napi::Function::New(env, guard<SystemInfo>));
    exports.Set("loadModel", Napi::Function::New(env, guard<Model::Load>));
    exports.Set("createContext", Napi::Function::New(env, guard<Context::Create>));
    exports.Set("estimateMemory", Napi::Function::New(env, guard<EstimateMemory>));
    exports.Set("activities", Napi::Function::New(env, guard<Activities>));
    exports.Set("llamaGate", Napi::Function::New(env, guard<LlamaGate>));
    exports.Set("fitParams", Napi::Function::New(env, guard<FitParams>));
    exports.Set("validUtf8", Napi::Function::New(env, guard<ValidUtf8>));
    addParamsExports(env, exports);
    addSamplerExports(env, exports);
    addPromptTokenExports(env, exports);
    addRpcExports(env, exports);
    exports.Set("Model", Model::Init(env));
    exports.Set("Context", Context::Init(env));
    return exports;
}

} // namespace

void hearth::installLogger() {
    llama_log_set(logCallback, nullptr);
    mtmd_helper_log_set(logCallback, nullptr); // the projector's (clip's) lines too
}

NODE_API_MODULE(hearth, InitModule)
