#include "activity.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <vector>

namespace hearth {

namespace {

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// every activity alive, in any thread; an activity removes itself under the lock before it is gone
struct Registry {
    std::mutex mu;
    std::vector<Activity *> all;
};

Registry & registry() {
    static Registry * r = new Registry(); // never destroyed: threads may still end activities at exit
    return *r;
}

thread_local Activity * t_current = nullptr;

} // namespace

Activity::Activity(const char * kind, std::string model)
    : kind_(kind), model_(std::move(model)), started_(nowMs()), last_(started_.load()), parent_(t_current) {
    t_current = this;
    Registry & r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.all.push_back(this);
}

Activity::~Activity() {
    t_current = parent_;
    Registry & r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.all.erase(std::remove(r.all.begin(), r.all.end(), this), r.all.end());
}

void Activity::progress() {
    last_.store(nowMs(), std::memory_order_relaxed);
}

void Activity::excuse() {
    const int64_t now = nowMs();
    // this activity and those around it (a load around its fit) waited; one that never progressed
    // starts its clock again (as the watchdog reads it, idle >= running means "before the first progress")
    for (Activity * a = this; a; a = a->parent_) {
        if (a->last_.load(std::memory_order_relaxed) <= a->started_.load(std::memory_order_relaxed)) a->started_.store(now, std::memory_order_relaxed);
        a->last_.store(now, std::memory_order_relaxed);
    }
}

Activity * Activity::current() {
    return t_current;
}

void progressHere() {
    // the innermost activity and those around it: a load's progress is also its thread's
    for (Activity * a = t_current; a; a = a->parent()) a->progress();
}

// The folder for render marks (HEARTH_RENDER_MARKS), or none: read once
static const std::filesystem::path * marksDir() {
    static const std::filesystem::path * dir = []() -> const std::filesystem::path * {
#ifdef _WIN32
        const wchar_t * v = _wgetenv(L"HEARTH_RENDER_MARKS");
#else
        const char * v = std::getenv("HEARTH_RENDER_MARKS");
#endif
        return v && *v ? new std::filesystem::path(v) : nullptr;
    }();
    return dir;
}

// A render mark naming `model` (UTF-8, as the host was given it), or none when it could not be written
static std::optional<std::filesystem::path> writeMark(const std::string & model) {
    const std::filesystem::path * dir = marksDir();
    if (!dir) return std::nullopt;
    static std::atomic<uint64_t> next{0};
    std::filesystem::path p = *dir / ("render-" + std::to_string(next.fetch_add(1)));
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(model.data(), (std::streamsize) model.size());
    out.close();
    if (!out) {
        std::error_code ec;
        std::filesystem::remove(p, ec);
        return std::nullopt;
    }
    return p;
}

TemplateScope::TemplateScope(const std::string & model, bool given, bool marked) : act_(t_current), prev_(0) {
    if (!act_) {
        own_.emplace("render", model);
        act_ = &*own_;
    }
    prev_ = act_->template_since_.load(std::memory_order_relaxed);
    if (prev_ == 0) {
        act_->template_given_.store(given, std::memory_order_relaxed);
        act_->template_since_.store(nowMs(), std::memory_order_relaxed);
    }
    if (marked && !given) mark_ = writeMark(model);
}

TemplateScope::~TemplateScope() {
    if (mark_) {
        std::error_code ec;
        std::filesystem::remove(*mark_, ec);
    }
    act_->template_since_.store(prev_, std::memory_order_relaxed);
    // a render that ended is progress
    if (prev_ == 0) act_->progress();
}

Napi::Value Activities(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    struct Row {
        std::string kind, model;
        int64_t started, last, tmpl;
        bool given;
    };
    std::vector<Row> rows;
    {
        Registry & r = registry();
        std::lock_guard<std::mutex> lock(r.mu);
        for (Activity * a : r.all) rows.push_back({a->kind(), a->model(), a->started(), a->last(), a->templateSince(), a->templateGiven()});
    }
    const int64_t now = nowMs();
    Napi::Array arr = Napi::Array::New(env, rows.size());
    for (size_t i = 0; i < rows.size(); i++) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("kind", rows[i].kind);
        o.Set("model", rows[i].model);
        o.Set("runningMs", (double) (now - rows[i].started));
        o.Set("idleMs", (double) std::max<int64_t>(0, now - rows[i].last));
        o.Set("templateMs", rows[i].tmpl ? Napi::Value(Napi::Number::New(env, (double) (now - rows[i].tmpl))) : env.Null());
        o.Set("templateGiven", rows[i].tmpl != 0 && rows[i].given);
        arr.Set((uint32_t) i, o);
    }
    return arr;
}

} // namespace hearth
