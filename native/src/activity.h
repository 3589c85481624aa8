// Native work the engine host's task watchdog watches (main/engine/watchdog.ts). Work that may run
// long registers an Activity for as long as it runs: a model load, context creation, a context's
// worker while it has work, a chat template render. The thread doing the work stamps progress (a
// load's progress, a decode, a graph node on the CPU); the host reads every activity from its JS
// thread (addon.activities()) and restarts itself when one stalls or a chat template runs past its
// deadline: llama.cpp's Jinja engine has no step or time limit, and a decode on some backends cannot
// be interrupted.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace hearth {

class Activity {
public:
    // kind: "load", "context", "work", "render"; model: the model file it works on
    Activity(const char * kind, std::string model);
    ~Activity();
    Activity(const Activity &) = delete;
    Activity & operator=(const Activity &) = delete;

    void progress();
    // The thread waited for something watched on its own (llama_gate.h): the wait is not a stall, and
    // before the first progress it does not use up the time a load has to read its file.
    void excuse();
    // the innermost activity the calling thread runs, or nullptr; the one around an activity, or nullptr
    static Activity * current();
    Activity * parent() const { return parent_; }

    const char * kind() const { return kind_; }
    const std::string & model() const { return model_; }
    int64_t started() const { return started_.load(std::memory_order_relaxed); }
    int64_t last() const { return last_.load(std::memory_order_relaxed); }
    int64_t templateSince() const { return template_since_.load(std::memory_order_relaxed); }
    bool templateGiven() const { return template_given_.load(std::memory_order_relaxed); }

private:
    friend class TemplateScope;
    const char * kind_;
    std::string model_;
    std::atomic<int64_t> started_;
    std::atomic<int64_t> last_;
    std::atomic<int64_t> template_since_{0}; // when the chat template render in progress began (0: none)
    std::atomic<bool> template_given_{false}; // that template is the user's (a chatTemplate setting), not the file's
    Activity * parent_;
};

// While it lives, the calling thread renders a chat template of `model`: its activity reports for how
// long, and whether it is the user's (`given`) or the file's own (a thread that runs no activity gets
// one of its own, kind "render"). The file's own template rendering a chat (`marked`) also leaves a
// render mark while it runs: a file naming `model` in the folder HEARTH_RENDER_MARKS names (the
// supervisor gives each host one, main/engine/render-marks.ts). A template whose macros recurse without
// end on some chats overflows the stack and ends the process; the mark it leaves tells the client
// which file's template that was. A load's check of the template is not marked: a crash there is the
// load's, which the client counts by itself.
class TemplateScope {
public:
    TemplateScope(const std::string & model, bool given, bool marked = true);
    ~TemplateScope();
    TemplateScope(const TemplateScope &) = delete;
    TemplateScope & operator=(const TemplateScope &) = delete;

private:
    std::optional<Activity> own_;
    Activity * act_;
    int64_t prev_;
    std::optional<std::filesystem::path> mark_;
};

// Stamps progress on the calling thread's activity (none: nothing happens). Cheap: one clock read and
// one relaxed store, so it may run per graph node.
void progressHere();

// activities() -> [{ kind, model, runningMs, idleMs, templateMs, templateGiven }] (templateMs null outside a template)
Napi::Value Activities(const Napi::CallbackInfo & info);

} // namespace hearth
