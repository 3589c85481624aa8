#include "llama_gate.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "activity.h"
#include "errors.h"

namespace hearth {

namespace {

struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    int uses = 0;         // threads inside a use
    int lengthy = 0;      // of which lengthy
    bool alone = false;   // a fit runs
    bool claiming = false; // a fit waits for the brief uses to end; new uses wait
    std::thread::id fitter;
    std::atomic<bool> fit_running{false};
    std::atomic<uint64_t> fits{0}, waited{0}, foreign_logs{0};
};

Gate & gate() {
    static Gate * g = new Gate(); // never destroyed: threads may use it while the process exits
    return *g;
}

thread_local int t_depth = 0;      // uses this thread holds
thread_local bool t_alone = false; // this thread runs a fit

// Waits until `ready`. Waiting for the gate is not a stall of the work this thread does (the work it
// waits for is watched on its own), so the thread's activity is stamped while it waits.
template <typename P> void waitFor(std::unique_lock<std::mutex> & lock, Gate & g, P ready) {
    while (!g.cv.wait_for(lock, std::chrono::seconds(1), ready)) {
        if (Activity * a = Activity::current()) a->progress();
    }
}

} // namespace

LlamaUse::LlamaUse(LlamaUseKind kind) {
    if (t_alone || t_depth++ > 0) return; // nested, or the fit's own thread
    Gate & g = gate();
    std::unique_lock<std::mutex> lock(g.mu);
    if (g.alone || g.claiming) {
        g.waited.fetch_add(1, std::memory_order_relaxed);
        waitFor(lock, g, [&] { return !g.alone && !g.claiming; });
    }
    g.uses++;
    lengthy_ = kind == LlamaUseKind::lengthy;
    if (lengthy_) g.lengthy++;
    counted_ = true;
}

LlamaUse::~LlamaUse() {
    if (t_alone) return;
    t_depth--;
    if (!counted_) return;
    Gate & g = gate();
    {
        std::lock_guard<std::mutex> lock(g.mu);
        g.uses--;
        if (lengthy_) g.lengthy--;
    }
    g.cv.notify_all();
}

LlamaAlone::LlamaAlone() {
    if (t_depth > 0 || t_alone) throw HearthError(codes::internal, "a fit was started inside another llama.cpp call");
    Gate & g = gate();
    std::unique_lock<std::mutex> lock(g.mu);
    // politely: while a lengthy use runs, brief ones come and go; one fit at a time
    waitFor(lock, g, [&] { return !g.alone && !g.claiming && g.lengthy == 0; });
    g.claiming = true;
    waitFor(lock, g, [&] { return g.uses == 0; });
    g.claiming = false;
    g.alone = true;
    g.fitter = std::this_thread::get_id();
    g.fit_running.store(true);
    g.fits.fetch_add(1, std::memory_order_relaxed);
    t_alone = true;
}

LlamaAlone::~LlamaAlone() {
    Gate & g = gate();
    {
        std::lock_guard<std::mutex> lock(g.mu);
        g.fit_running.store(false);
        g.alone = false;
        g.fitter = std::thread::id();
        t_alone = false;
    }
    g.cv.notify_all();
}

void llamaGateNoteLog() {
    Gate & g = gate();
    if (!g.fit_running.load(std::memory_order_relaxed) || t_alone) return;
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.alone && g.fitter != std::this_thread::get_id()) g.foreign_logs.fetch_add(1, std::memory_order_relaxed);
}

LlamaGateStats llamaGateStats() {
    Gate & g = gate();
    return {g.fits.load(), g.waited.load(), g.foreign_logs.load()};
}

} // namespace hearth
