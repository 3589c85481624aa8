#include "util.h"

#include "openmp_team.h"

#include <sys/stat.h>

#include <algorithm>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hearth {

// On Windows none: the write time, which the standard library gives, is the user's to set and copies
// keep it, and the file id and change time need Win32 calls untested here.
std::string fileIdentity(const std::string & path) {
#ifdef _WIN32
    (void) path;
    return "";
#else
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return "";
#ifdef __APPLE__
    const auto & m = st.st_mtimespec;
    const auto & c = st.st_ctimespec;
#else
    const auto & m = st.st_mtim;
    const auto & c = st.st_ctim;
#endif
    // the change time too, as main/gguf/cache.ts: a file put in another's place differs at least in it
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + "\n" + std::to_string(st.st_size) + "\n" +
           std::to_string(m.tv_sec) + "." + std::to_string(m.tv_nsec) + "\n" + std::to_string(c.tv_sec) + "." + std::to_string(c.tv_nsec);
#endif
}

void returnFreedMemory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

Napi::Promise AsyncTask::run(Napi::Env env, Work work, Done done) {
    auto * task = new AsyncTask(env, std::move(work), std::move(done));
    Napi::Promise promise = task->deferred_.Promise();
    task->Queue();
    return promise;
}

AsyncTask::AsyncTask(Napi::Env env, Work work, Done done)
    : Napi::AsyncWorker(env, "hearth.task"), deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)), done_(std::move(done)) {}

void AsyncTask::Execute() {
    try {
        work_();
    } catch (...) {
        failure_ = currentFailure();
    }
    // a pool thread keeps no OpenMP team between tasks (openmp_team.h; nothing to free when it led none)
    releaseOpenmpTeam();
}

void AsyncTask::OnOK() {
    Napi::Env env = Env();
    if (failure_) {
        deferred_.Reject(makeError(env, failure_->code, failure_->message).Value());
        return;
    }
    try {
        deferred_.Resolve(wrap(env, [&] { return done_(env); }));
    } catch (const Napi::Error & e) {
        deferred_.Reject(e.Value());
    }
}

void AsyncTask::OnError(const Napi::Error & e) {
    deferred_.Reject(e.Value());
}

const char * deviceTypeName(enum ggml_backend_dev_type t) {
    switch (t) {
        case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
        case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
        case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
        case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
        default: return "other";
    }
}

double optNumber(const Napi::Object & o, const char * key, double def) {
    if (!o.Has(key)) return def;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    if (!v.IsNumber()) throw HearthError(codes::invalid_argument, std::string(key) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
}

bool optBool(const Napi::Object & o, const char * key, bool def) {
    if (!o.Has(key)) return def;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    if (!v.IsBoolean()) throw HearthError(codes::invalid_argument, std::string(key) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
}

std::string optString(const Napi::Object & o, const char * key, const std::string & def) {
    if (!o.Has(key)) return def;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    if (!v.IsString()) throw HearthError(codes::invalid_argument, std::string(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> optStrings(const Napi::Object & o, const char * key) {
    std::vector<std::string> out;
    if (!o.Has(key)) return out;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return out;
    if (!v.IsArray()) throw HearthError(codes::invalid_argument, std::string(key) + " must be an array of strings");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a.Get(i);
        if (!e.IsString()) throw HearthError(codes::invalid_argument, std::string(key) + " must be an array of strings");
        out.push_back(e.As<Napi::String>().Utf8Value());
    }
    return out;
}

Napi::Object withoutKeys(Napi::Env env, const Napi::Object & o, std::initializer_list<const char *> drop) {
    Napi::Object out = Napi::Object::New(env);
    Napi::Array names = o.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
        Napi::Value k = names.Get(i);
        const std::string name = k.IsString() ? k.As<Napi::String>().Utf8Value() : std::string();
        if (std::none_of(drop.begin(), drop.end(), [&](const char * d) { return name == d; })) out.Set(k, o.Get(k));
    }
    return out;
}

size_t jsLength(const std::string & s) {
    size_t n = 0;
    for (unsigned char c : s) {
        if ((c & 0xC0) == 0x80) continue;
        n += (c & 0xF8) == 0xF0 ? 2 : 1;
    }
    return n;
}

std::string validUtf8(std::string s) {
    static constexpr char kReplacement[] = "\xEF\xBF\xBD";
    std::string out;
    const size_t n = s.size();
    size_t i = 0, copied = 0; // s[copied, i) is valid and not yet in `out`
    while (i < n) {
        const unsigned char c = (unsigned char) s[i];
        if (c < 0x80) { i++; continue; }
        // the sequence's length and the range of its second byte (the WHATWG decoder's bounds)
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        size_t k = 1; // bytes of a well-formed prefix
        if (len > 0) {
            while (k < len && i + k < n) {
                const unsigned char b = (unsigned char) s[i + k];
                if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
                k++;
            }
        }
        if (len > 0 && k == len) { i += len; continue; }
        if (out.empty()) out.reserve(n + 8);
        out.append(s, copied, i - copied);
        out += kReplacement;
        i += k; // a maximal subpart is one replacement; the byte that broke it starts afresh
        copied = i;
    }
    if (copied == 0) return s; // moved: no copy of a text that was valid
    out.append(s, copied, n - copied);
    return out;
}

} // namespace hearth
