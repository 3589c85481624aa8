// Who may call into llama.cpp while its parameter fitting runs.
//
// llama.cpp's fitting and estimating (common_fit_params, common_get_device_memory_data) replace the
// process-wide logger (llama_log_set, ggml_log_set: two plain pointers, no lock) with a wrapper whose data
// lives on the fitting thread's stack, and put the old one back when done. Any llama.cpp or ggml call on
// another thread that logs meanwhile may read a half-written pair, or call the wrapper after its data is
// gone: the engine host would crash. So a fit runs alone (LlamaAlone), and every other piece of code that
// calls into llama.cpp holds a LlamaUse while it does: the JS thread's entry points (errors.h), a
// context's worker for each step, loads, context creation, chat rendering, and the frees.
//
// Uses nest on one thread, and a use inside the fit's own thread does not wait. A fit does not barge in on
// lengthy uses (a model load, creating a context, rendering a chat): it waits politely until none runs,
// letting brief ones (a decode step, a JS call) come and go, so a load in progress never stalls other
// models' generation. Then it waits for the brief ones to finish, with new uses held back, and runs.
#pragma once

#include <cstdint>

namespace hearth {

enum class LlamaUseKind { brief, lengthy };

class LlamaUse {
public:
    explicit LlamaUse(LlamaUseKind kind = LlamaUseKind::brief);
    ~LlamaUse();
    LlamaUse(const LlamaUse &) = delete;
    LlamaUse & operator=(const LlamaUse &) = delete;

private:
    bool counted_ = false;
    bool lengthy_ = false;
};

class LlamaAlone {
public:
    LlamaAlone(); // throws HearthError(internal) on a thread that holds a LlamaUse (it would wait for itself)
    ~LlamaAlone();
    LlamaAlone(const LlamaAlone &) = delete;
    LlamaAlone & operator=(const LlamaAlone &) = delete;
};

// What the gate has seen, for tests: fits run, and log lines that reached the logger from a thread other
// than the fit's while a fit ran (each one a use the gate failed to hold back: it must stay 0).
struct LlamaGateStats {
    uint64_t fits = 0;
    uint64_t waited = 0; // uses that had to wait for a fit
    uint64_t foreign_logs = 0;
};
LlamaGateStats llamaGateStats();

// The addon's log callback calls this for every line (counts foreign_logs).
void llamaGateNoteLog();

} // namespace hearth
