// JS class Context: a llama_context on one model, with its own worker thread and task queue.
// Every operation that touches the context (generation, embeddings, sessions) is a task; tasks run
// one at a time in queue order, each can be aborted (a queued one is dropped without running).
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "errors.h"
#include "llama.h"
#include "model.h"

namespace hearth {

struct Task;

// Its JS methods run through wrap() (errors.h): Guarded<Context>::guarded.
class Context : public Napi::ObjectWrap<Context>, public Guarded<Context> {
public:
    static Napi::Function Init(Napi::Env env);
    static Napi::FunctionReference constructor;
    explicit Context(const Napi::CallbackInfo & info);
    ~Context() override;

    // addon.createContext(model, params) -> Promise<Context>
    static Napi::Value Create(const Napi::CallbackInfo & info);

    // state shared with the worker thread
    struct State;

private:
    Napi::Value Generate(const Napi::CallbackInfo & info);
    Napi::Value Abort(const Napi::CallbackInfo & info);
    Napi::Value Embed(const Napi::CallbackInfo & info);
    Napi::Value Rerank(const Napi::CallbackInfo & info);
    Napi::Value SaveSession(const Napi::CallbackInfo & info);
    Napi::Value RestoreSession(const Napi::CallbackInfo & info);
    Napi::Value ClearSequence(const Napi::CallbackInfo & info);
    Napi::Value Info(const Napi::CallbackInfo & info);
    Napi::Value MemoryBreakdown(const Napi::CallbackInfo & info);
    Napi::Value Dispose(const Napi::CallbackInfo & info);

    Napi::Promise enqueue(Napi::Env env, std::shared_ptr<Task> task, Napi::Value onEvent);
    Napi::Value sessionTask(const Napi::CallbackInfo & info, int kind, const char * name);
    // stops the worker (queued tasks fail, running ones abort) and hands over the state, to be joined
    std::shared_ptr<State> stop();

    std::shared_ptr<State> state_;
};

} // namespace hearth
