#include "context.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "activity.h"
#include "embed.h"
#include "session.h"
#include "generation.h"
#include "limits.h"
#include "memory.h"
#include "vision.h"
#include "llama_gate.h"
#include "openmp_team.h"
#include "params.h"
#include "reaper.h"
#include "task.h"
#include "util.h"
#include "worker.h"

namespace hearth {

Napi::FunctionReference Context::constructor;

// llama.cpp's abort callback: the running task's flag (set for a decode of one run), or dispose()
static bool abortCallback(void * data) {
    progressHere(); // called per graph node on the CPU, by the decoding thread: progress for the watchdog
    return static_cast<Context::State *>(data)->aborting();
}

// ---- JS side ---------------------------------------------------------------------------------------

Napi::Function Context::Init(Napi::Env env) {
    Napi::Function fn = DefineClass(env, "Context", {
        InstanceMethod("generate", &Context::guarded<&Context::Generate>),
        InstanceMethod("abort", &Context::guarded<&Context::Abort>),
        InstanceMethod("embed", &Context::guarded<&Context::Embed>),
        InstanceMethod("rerank", &Context::guarded<&Context::Rerank>),
        InstanceMethod("saveSession", &Context::guarded<&Context::SaveSession>),
        InstanceMethod("restoreSession", &Context::guarded<&Context::RestoreSession>),
        InstanceMethod("clearSequence", &Context::guarded<&Context::ClearSequence>),
        InstanceMethod("info", &Context::guarded<&Context::Info>),
        InstanceMethod("memoryBreakdown", &Context::guarded<&Context::MemoryBreakdown>),
        InstanceMethod("dispose", &Context::guarded<&Context::Dispose>),
    });
    constructor = Napi::Persistent(fn);
    constructor.SuppressDestruct();
    // at the environment's teardown (the process ending) the contexts finalized earlier are joined before
    // anything is unloaded; those finalized during it are joined at once
    // (Node aborts on a second hook with the same function and argument: the argument differs per load of
    // the module, as a cleared require cache loads it again in one environment)
    static std::atomic<uintptr_t> loads{0};
    napi_add_env_cleanup_hook(env, [](void *) { reapAllNow(); }, reinterpret_cast<void *>(++loads));
    return fn;
}

Context::Context(const Napi::CallbackInfo & info) : Napi::ObjectWrap<Context>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
        throw Napi::TypeError::New(info.Env(), "Context cannot be constructed directly: use createContext()");
    }
    auto * ext = info[0].As<Napi::External<std::shared_ptr<State>>>().Data();
    state_ = std::move(*ext); // this object holds the state alone: it is freed where dispose() lets go of it, never by the GC
    try {
        state_->worker = std::thread(workerLoop, state_);
    } catch (const std::exception & e) { // no thread to be had: a JS error, never std::terminate
        state_.reset();
        throw makeError(info.Env(), codes::internal, std::string("could not start the context's worker thread: ") + e.what());
    }
    nameThread(state_->worker, WORKER_THREAD_NAME);
}

// A context never disposed (garbage collected, or the process ending): stopped here (running tasks abort,
// queued ones fail); its worker is joined and its memory freed on the reaper thread, never on the JS
// thread: a decode on a GPU backend runs on to the end of its micro-batch whatever the abort callback says.
Context::~Context() {
    std::shared_ptr<State> st = stop();
    if (!st) return;
    reap([st = std::move(st)]() mutable { // the last reference: the state is freed on the reaper thread
        if (st->worker.joinable()) st->worker.join();
        st.reset();
    });
}

std::shared_ptr<Context::State> Context::stop() {
    std::shared_ptr<State> st = std::move(state_);
    if (!st) return st;
    std::deque<std::shared_ptr<Task>> dropped;
    {
        std::lock_guard<std::mutex> lock(st->mu);
        st->stopping = true;
        st->closing = true; // llama.cpp's abort callback ends a decode in flight
        dropped.swap(st->queue);
        for (auto & t : st->active) t->aborted = true;
    }
    st->cv.notify_all();
    for (auto & t : dropped) {
        t->error = Failure{codes::disposed, "the context was disposed before the request ran"};
        settle(t);
    }
    return st;
}

Napi::Value Context::Create(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Model::constructor.Value())) {
        throw makeError(env, codes::invalid_argument, "createContext(model, params): model must be a Model");
    }
    Model * m = Model::Unwrap(info[0].As<Napi::Object>());
    auto st = std::make_shared<State>();
    llama_context_params cp;
    st->model = m->requireHandle();
    // the LoRA adapters as the user knows them, where the host names them by descriptors (adapters.h
    // AdapterEntry::display): not load parameters
    const bool given = info.Length() > 1 && info[1].IsObject();
    const std::vector<std::string> lora_names = given ? optStrings(info[1].As<Napi::Object>(), "loraDisplayPaths") : std::vector<std::string>();
    const EngineParams ep = parseEngineParams(given ? withoutKeys(env, info[1].As<Napi::Object>(), {"loraDisplayPaths"}) : info.Length() > 1 ? info[1] : env.Undefined());
    cp = contextParams(ep.context, st->model->model);
    AdapterParams adapters = ep.load.adapters;
    if (!lora_names.empty() && lora_names.size() != adapters.lora.size()) {
        throw makeError(env, codes::invalid_argument, "createContext: loraDisplayPaths must name each of loraAdapters");
    }
    for (size_t i = 0; i < lora_names.size(); i++) adapters.lora[i].display = lora_names[i];
    cp.abort_callback = abortCallback;
    cp.abort_callback_data = st.get();
    st->n_seq = (int) cp.n_seq_max;
    st->embeddings = cp.embeddings;
    st->type_k = cp.type_k;
    st->type_v = cp.type_v;
    st->swa_full = cp.swa_full;
    st->flash_attn = cp.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_ENABLED ? "on" : cp.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_DISABLED ? "off" : "auto";
    return AsyncTask::run(env,
        [st, cp, adapters]() {
            Activity activity("context", st->model->path);
            LlamaUse use(LlamaUseKind::lengthy);
            AllocationWatch allocation;
            st->ctx = llama_init_from_model(st->model->model, cp);
            if (!st->ctx && allocation.failed()) {
                throw HearthError(codes::out_of_memory, "not enough memory for a context of " + std::to_string(cp.n_ctx) +
                                                            " tokens: llama.cpp could not allocate its cache or compute buffers (see the engine log)");
            }
            if (!st->ctx) throw HearthError(codes::context_failed, "llama.cpp could not create a context of " + std::to_string(cp.n_ctx) + " tokens (see the engine log)");
            st->n_ctx = (int) llama_n_ctx(st->ctx);
            st->n_batch = (int) llama_n_batch(st->ctx);
            st->n_ubatch = (int) llama_n_ubatch(st->ctx);
            st->threads = (int) llama_n_threads(st->ctx); // what it computes with: the default (defaultThreads()) or the asked
            st->threads_batch = (int) llama_n_threads_batch(st->ctx);
            st->batch = llama_batch_init(st->n_batch, 0, std::max(1, st->n_seq));
            st->seq_tokens.assign(st->n_seq, {});
            // LoRA adapters and control vectors (adapters.h): one that does not fit fails the context, not the model
            // (with gpuLayers "auto" the load's fit refuses a control vector first, adapterMemory)
            st->adapters.init(st->model->model, st->ctx, adapters, st->model->path);
            st->lora_applied = st->adapters.keyOf(st->adapters.defaults());
            st->seq_lora.assign(st->n_seq, st->lora_applied);
            // speculative decoding, as the model's load settings ask (not for an embeddings context)
            if (!cp.embeddings) st->spec = makeSpeculation(*st->model, st->ctx, cp);
            st->publish(true); // the worker does not run yet
        },
        [st](Napi::Env env) -> Napi::Value {
            auto * ext = new std::shared_ptr<State>(st);
            auto external = Napi::External<std::shared_ptr<State>>::New(env, ext, [](Napi::Env, std::shared_ptr<State> * p) { delete p; });
            return constructor.New({external});
        });
}

Napi::Promise Context::enqueue(Napi::Env env, std::shared_ptr<Task> task, Napi::Value onEvent) {
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    Napi::Function fn = onEvent.IsFunction() ? onEvent.As<Napi::Function>() : Napi::Function::New(env, [](const Napi::CallbackInfo &) {});
    task->tsfn = Napi::ThreadSafeFunction::New(env, fn, "hearth.task", 0, 1);
    task->deferred = std::make_shared<Napi::Promise::Deferred>(env);
    Napi::Promise p = task->deferred->Promise();
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        state_->queue.push_back(task);
    }
    state_->cv.notify_one();
    return p;
}

static int seqArg(const Napi::Object & o, int n_seq) {
    double s = optNumber(o, "seq", 0);
    if (std::floor(s) != s || s < 0 || s >= n_seq) throw HearthError(codes::invalid_argument, "seq must be an integer in [0, " + std::to_string(n_seq) + ")");
    return (int) s;
}

// generate(requestJson, onEvent) -> Promise<result>; the request's "id" names it for abort(id)
Napi::Value Context::Generate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "generate(requestJson, onEvent?): a JSON string is required");
    auto task = std::make_shared<Task>();
    task->kind = Task::GENERATE;
    task->req = common_json::parse_no_throw(info[0].As<Napi::String>().Utf8Value());
    if (task->req.is_discarded() || !task->req.is_object()) throw makeError(env, codes::invalid_argument, "generate: the request is not a JSON object");
    try {
        task->id = task->req.value("id", (uint64_t) 0);
        const RequestParams rp = parseRequest(task->req);
        int s = rp.seq;
        if (s < 0 || s >= state_->n_seq) throw HearthError(codes::invalid_argument, "seq must be in [0, " + std::to_string(state_->n_seq) + ")");
        task->seq = s;
        // read-only once the context exists (adapters.h)
        task->lora_scales = rp.lora_given ? state_->adapters.scalesFor(rp.lora) : state_->adapters.defaults();
        task->lora_key = state_->adapters.keyOf(task->lora_scales);
    } catch (const common_json_error & e) { // a field of the wrong type
        throw HearthError(codes::invalid_argument, e.what());
    }
    return enqueue(env, task, info.Length() > 1 ? info[1] : env.Undefined());
}

// abort(id) -> "queued" | "running" | "unknown"
Napi::Value Context::Abort(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const double given = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(given >= 0 && given <= 9007199254740991.0 && std::floor(given) == given)) { // NaN fails too
        throw makeError(env, codes::invalid_argument, "abort(id): id must be a request id (a whole number >= 0)");
    }
    if (!state_) return Napi::String::New(env, "unknown");
    uint64_t id = (uint64_t) given;
    std::shared_ptr<Task> dropped;
    std::string where = "unknown";
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        for (auto it = state_->queue.begin(); it != state_->queue.end(); ++it) {
            if ((*it)->id == id) { dropped = *it; state_->queue.erase(it); where = "queued"; break; }
        }
        if (!dropped) {
            for (auto & t : state_->active) {
                if (t->id != id) continue;
                // the first abort marks where the request stood; a repeated one changes nothing
                int unset = -1;
                t->abortedAt.compare_exchange_strong(unset, t->generated.load());
                unset = -1;
                t->promptedAt.compare_exchange_strong(unset, t->prompted.load());
                t->aborted = true;
                where = "running";
            }
        }
    }
    if (dropped) {
        dropped->error = Failure{codes::aborted, "the request was aborted before it ran"};
        settle(dropped);
    }
    return Napi::String::New(env, where);
}

// embed(texts, {id, parseSpecial}?) -> Promise<Float32Array[]>; the id names it for abort(id);
// parseSpecial (default true, as llama-server): special-token text in a text is that token, else text
Napi::Value Context::Embed(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw makeError(env, codes::invalid_argument, "embed(texts, {id}?): texts must be an array of strings");
    auto task = std::make_shared<Task>();
    task->kind = Task::EMBED;
    const Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    double id = optNumber(opts, "id", 0);
    if (id < 0 || std::floor(id) != id) throw HearthError(codes::invalid_argument, "embed: id must be an integer >= 0");
    task->id = (uint64_t) id;
    task->parseSpecial = optBool(opts, "parseSpecial", true);
    Napi::Array arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
        if (!arr.Get(i).IsString()) throw makeError(env, codes::invalid_argument, "embed(texts): texts must be strings");
        task->texts.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
    return enqueue(env, task, env.Undefined());
}

// rerank(query, documents, {id, parseSpecial}?) -> Promise<{scores, tokens}>: a relevance score per
// document (rank pooling), and the tokens of all the query/document pairs evaluated; parseSpecial as embed's
Napi::Value Context::Rerank(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
        throw makeError(env, codes::invalid_argument, "rerank(query, documents, {id}?): a query string and an array of document strings");
    }
    auto task = std::make_shared<Task>();
    task->kind = Task::RERANK;
    const Napi::Object opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    double id = optNumber(opts, "id", 0);
    if (id < 0 || std::floor(id) != id) throw HearthError(codes::invalid_argument, "rerank: id must be an integer >= 0");
    task->id = (uint64_t) id;
    task->parseSpecial = optBool(opts, "parseSpecial", true);
    task->query = info[0].As<Napi::String>().Utf8Value();
    Napi::Array arr = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
        if (!arr.Get(i).IsString()) throw makeError(env, codes::invalid_argument, "rerank(query, documents): documents must be strings");
        task->texts.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
    return enqueue(env, task, env.Undefined());
}

// saveSession(path, {seq}?) and restoreSession(path, {seq}?): a task on the sequence's file
Napi::Value Context::sessionTask(const Napi::CallbackInfo & info, int kind, const char * name) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, std::string(name) + "(path, {seq}?)");
    auto task = std::make_shared<Task>();
    task->kind = (Task::Kind) kind;
    task->path = info[0].As<Napi::String>().Utf8Value();
    task->seq = seqArg(info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env), state_->n_seq);
    return enqueue(env, task, env.Undefined());
}

Napi::Value Context::SaveSession(const Napi::CallbackInfo & info) {
    return sessionTask(info, Task::SAVE, "saveSession");
}

Napi::Value Context::RestoreSession(const Napi::CallbackInfo & info) {
    return sessionTask(info, Task::RESTORE, "restoreSession");
}

Napi::Value Context::ClearSequence(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    auto task = std::make_shared<Task>();
    task->kind = Task::CLEAR;
    task->seq = seqArg(info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env), state_->n_seq);
    return enqueue(env, task, env.Undefined());
}

Napi::Value Context::Info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    Napi::Object o = Napi::Object::New(env);
    o.Set("contextSize", state_->n_ctx);
    o.Set("batchSize", state_->n_batch);
    o.Set("ubatchSize", state_->n_ubatch);
    o.Set("parallel", state_->n_seq);
    o.Set("threads", state_->threads);
    o.Set("threadsBatch", state_->threads_batch);
    o.Set("cacheTypeK", ggml_type_name(state_->type_k));
    o.Set("cacheTypeV", ggml_type_name(state_->type_v));
    o.Set("flashAttention", state_->flash_attn);
    o.Set("embeddings", state_->embeddings);
    o.Set("swaFull", state_->swa_full);
    o.Set("slidingWindow", llama_model_n_swa(state_->model->model)); // 0: the model has no sliding-window layers
    // as the worker last published them (it changes them while it decodes)
    const std::vector<int> used = state_->published().seq_tokens;
    Napi::Array seqs = Napi::Array::New(env, used.size());
    for (size_t i = 0; i < used.size(); i++) seqs.Set((uint32_t) i, used[i]);
    o.Set("sequenceTokens", seqs);
    return o;
}

// memoryBreakdown() -> llama.cpp's own accounting of what this model + context allocated, per device, as
// the worker last published it (llama.cpp's accounting must not be read while a decode runs)
Napi::Value Context::MemoryBreakdown(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, codes::disposed, "the context was disposed");
    const auto & vision = state_->model->vision;
    return memoryBreakdownToJs(env, state_->model->model, state_->published().memory, vision ? vision->memory : ProjectorMemory{});
}

// dispose() -> Promise<void>: queued requests fail (disposed), running ones are aborted; the worker is
// joined and the context freed on the libuv pool, so the JS thread never waits for a decode to stop.
// The promise settles when the memory is back.
Napi::Value Context::Dispose(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    auto st = std::make_shared<std::shared_ptr<State>>(stop());
    return AsyncTask::run(env,
        [st]() {
            if (*st && (*st)->worker.joinable()) (*st)->worker.join();
            st->reset();
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

} // namespace hearth
