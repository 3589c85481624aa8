#include "llama_gate.h"

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
    int uses = 0;          // threads inside a use
    int lengthy = 0;       // of which lengthy
    int uses_waiting = 0;  // uses waiting for a fit: after a fit they go first
    int fits_waiting = 0;  // fits waiting (politely or claiming)
    bool alone = false;    // a fit runs
    bool claiming = false; // a fit waits for the brief uses to end; new uses wait
    uint64_t completed = 0; // fits that ended
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
thread_local bool t_lengthy = false; // this thread's outermost use is lengthy

// Waits until `ready`. Waiting at the gate is not a stall of this thread's work: what it waits for is
// watched on its own (a fit has its activity; a use in progress has its thread's), so the thread's
// activity is excused for the wait. `cancelled` ends the wait with HearthError(aborted).
template <typename P> void waitFor(std::unique_lock<std::mutex> & lock, Gate & g, P ready, const std::atomic<bool> * cancelled = nullptr) {
    while (!ready()) {
        if (cancelled && cancelled->load()) throw HearthError(codes::aborted, "cancelled while waiting for llama.cpp's fitting");
        if (!g.cv.wait_for(lock, std::chrono::milliseconds(200), ready)) {
            if (Activity * a = Activity::current()) a->excuse();
        }
    }
}

void enter(Gate & g, std::unique_lock<std::mutex> & lock, LlamaUseKind kind) {
    // the JS thread's calls are short and few: they pass a claim, and wait only for a running fit
    const auto open = [&] { return !g.alone && (kind == LlamaUseKind::js || !g.claiming); };
    if (!open()) {
        g.waited.fetch_add(1, std::memory_order_relaxed);
        g.uses_waiting++;
        waitFor(lock, g, open);
        if (--g.uses_waiting == 0) g.cv.notify_all();
    }
    g.uses++;
    if (kind == LlamaUseKind::lengthy) g.lengthy++;
}

void leave(Gate & g, bool lengthy) {
    {
        std::lock_guard<std::mutex> lock(g.mu);
        g.uses--;
        if (lengthy) g.lengthy--;
    }
    g.cv.notify_all();
}

} // namespace

LlamaUse::LlamaUse(LlamaUseKind kind) {
    if (t_alone) return; // the fit's own thread
    if (t_depth > 0) { t_depth++; return; } // nested
    Gate & g = gate();
    std::unique_lock<std::mutex> lock(g.mu);
    enter(g, lock, kind);
    lengthy_ = kind == LlamaUseKind::lengthy;
    t_lengthy = lengthy_;
    counted_ = true;
    t_depth = 1;
}

LlamaUse::~LlamaUse() {
    if (t_alone) return;
    t_depth--;
    if (!counted_) return;
    t_lengthy = false;
    leave(gate(), lengthy_);
}

void LlamaUse::yieldToFit(const std::atomic<bool> * cancelled) {
    if (t_alone || t_depth == 0) return;
    Gate & g = gate();
    std::unique_lock<std::mutex> lock(g.mu);
    if (g.fits_waiting == 0) return;
    g.uses--;
    if (t_lengthy) g.lengthy--;
    g.cv.notify_all();
    // back once the fit that was waiting has run (not every fit that comes after it), or when cancelled
    const uint64_t seen = g.completed;
    waitFor(lock, g, [&] { return (g.fits_waiting == 0 || g.completed != seen || (cancelled && cancelled->load())) && !g.alone && !g.claiming; });
    enter(g, lock, t_lengthy ? LlamaUseKind::lengthy : LlamaUseKind::brief);
}

LlamaAlone::LlamaAlone(const std::atomic<bool> * cancelled) {
    if (t_depth > 0 || t_alone) throw HearthError(codes::internal, "a fit was started inside another llama.cpp call");
    Gate & g = gate();
    std::unique_lock<std::mutex> lock(g.mu);
    g.fits_waiting++;
    bool claimed = false;
    try {
        // politely: while a lengthy use runs, brief ones come and go (a load steps aside at its next
        // progress report); uses that waited for the last fit go first; one fit at a time
        waitFor(lock, g, [&] { return !g.alone && !g.claiming && g.lengthy == 0 && g.uses_waiting == 0; }, cancelled);
        // then new uses wait, and the brief ones in progress end (at most one step of each context)
        g.claiming = claimed = true;
        waitFor(lock, g, [&] { return g.uses == 0; }, cancelled);
        g.claiming = false;
    } catch (...) {
        if (claimed) g.claiming = false;
        g.fits_waiting--;
        g.cv.notify_all();
        throw;
    }
    g.fits_waiting--;
    g.alone = true;
    g.fitter = std::this_thread::get_id();
    g.fit_running.store(true);
    g.fits.fetch_add(1, std::memory_order_relaxed);
    t_alone = true;
}

LlamaAlone::~LlamaAlone() {
    installLogger(); // still alone: nothing else reads the loggers now
    Gate & g = gate();
    {
        std::lock_guard<std::mutex> lock(g.mu);
        g.fit_running.store(false);
        g.alone = false;
        g.completed++;
        g.fitter = std::thread::id();
        t_alone = false;
    }
    g.cv.notify_all();
}

void llamaGateNoteLog() {
    if (t_alone) {
        // a fit's log lines are its progress (its own activity only: a load around it has not progressed)
        if (Activity * a = Activity::current()) a->progress();
        return;
    }
    Gate & g = gate();
    if (!g.fit_running.load(std::memory_order_relaxed)) return;
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.alone && g.fitter != std::this_thread::get_id()) g.foreign_logs.fetch_add(1, std::memory_order_relaxed);
}

LlamaGateStats llamaGateStats() {
    Gate & g = gate();
    return {g.fits.load(), g.waited.load(), g.foreign_logs.load()};
}

} // namespace hearth
