// Who may call into llama.cpp while its parameter fitting runs.
//
// llama.cpp's fitting and estimating (common_fit_params, common_get_device_memory_data) replace the
// process-wide loggers (llama_log_set writes ggml's and llama's: two pairs of plain pointers, no lock)
// with a wrapper whose data lives on the fitting thread's stack, and put the old ones back when done.
// Any llama.cpp or ggml call on another thread that logs meanwhile may read a half-written pair, or call
// the wrapper after its data is gone: the engine host would crash. So a fit runs alone (LlamaAlone), and
// code that calls into llama.cpp holds a LlamaUse while it does: a context's worker for each step,
// loads, context creation, chat rendering on the pool, the frees, and the few JS-thread entry points
// that call llama.cpp (tokenizing, devices, samplers). Entry points that only queue work or read what
// a worker published never wait here, so the host's JS thread (its watchdog, abort, pings) goes on.
//
// Uses nest on one thread, and a use on the fit's own thread does not wait. A fit waits politely while
// a lengthy use runs (creating a context, rendering a chat on the pool), letting brief ones come and go;
// a model load steps aside for a waiting fit at its next progress report (yieldToFit). Then the fit
// claims the gate: new brief and lengthy uses wait, and once the uses in progress have ended (at most
// one step of each context's worker) it runs. The JS thread's calls (js) wait only while the fit runs.
// A running fit is an activity the host's watchdog watches (its log lines are its progress), and so is
// the work of every other holder of a use (a load, a context, a worker step, a render, a free): a thread
// waiting at the gate waits for watched work, and is excused meanwhile.
#pragma once

#include <atomic>
#include <cstdint>

namespace hearth {

// brief: a step of work (waits while a fit claims the gate or runs); lengthy: work that takes a while (a
// fit waits politely for it); js: a call on the JS thread, which waits only while a fit runs, never
// behind a claim (so never for other threads' work)
enum class LlamaUseKind { brief, lengthy, js };

class LlamaUse {
public:
    explicit LlamaUse(LlamaUseKind kind = LlamaUseKind::brief);
    ~LlamaUse();
    LlamaUse(const LlamaUse &) = delete;
    LlamaUse & operator=(const LlamaUse &) = delete;

    // Inside a use, at a point where this thread is not inside llama.cpp's logging (a load's progress
    // callback): when a fit waits, lets it run first, then goes on; when `cancelled` turns true, it goes
    // on once no fit runs (the load then ends, and logs that it did).
    static void yieldToFit(const std::atomic<bool> * cancelled = nullptr);

private:
    bool counted_ = false;
    bool lengthy_ = false;
};

class LlamaAlone {
public:
    // Waits until the fit may run. `cancelled`, when given, is read while it waits: once true, the wait
    // ends with HearthError(aborted). Throws HearthError(internal) on a thread that holds a LlamaUse.
    explicit LlamaAlone(const std::atomic<bool> * cancelled = nullptr);
    ~LlamaAlone(); // puts the addon's logger back (a fit that threw midway leaves llama.cpp's wrapper)
    LlamaAlone(const LlamaAlone &) = delete;
    LlamaAlone & operator=(const LlamaAlone &) = delete;
};

// What the gate has seen, for tests: fits run, uses that waited for one, and log lines that reached the
// logger from a thread other than the fit's while a fit ran (each a use the gate failed to hold back:
// it must stay 0).
struct LlamaGateStats {
    uint64_t fits = 0;
    uint64_t waited = 0;
    uint64_t foreign_logs = 0;
};
LlamaGateStats llamaGateStats();

// The addon's log callback calls this for every line (counts foreign_logs).
void llamaGateNoteLog();

// Installs the addon's log callback (addon.cpp); ~LlamaAlone calls it.
void installLogger();

} // namespace hearth
