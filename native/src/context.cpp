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

namespace hearth {

Napi::FunctionReference Context::constructor;

// The largest sequence state saved between the steps of running generations (they pause meanwhile: at a
// page cache's gigabyte a second or more, a fraction of a second)
static constexpr size_t SAVE_BETWEEN_STEPS_BYTES = 256u << 20;

// llama.cpp's abort callback: the running task's flag (set for a decode of one run), or dispose()
static bool abortCallback(void * data) {
    progressHere(); // called per graph node on the CPU, by the decoding thread: progress for the watchdog
    return static_cast<Context::State *>(data)->aborting();
}

// ---- what the worker publishes ----------------------------------------------------------------------

void Context::State::publish(bool memory) {
    std::vector<int> sizes(seq_tokens.size());
    for (size_t i = 0; i < seq_tokens.size(); i++) sizes[i] = (int) seq_tokens[i].size();
    ContextMemory mem;
    if (memory) mem = contextMemory(model->model, ctx, spec ? spec->ctx_dft : nullptr, adapters.memory());
    std::lock_guard<std::mutex> lock(pub_mu);
    pub.seq_tokens.swap(sizes);
    if (memory) pub.memory = std::move(mem);
}

Context::State::Published Context::State::published() {
    std::lock_guard<std::mutex> lock(pub_mu);
    return pub;
}

// ---- settling a task on the JS thread -------------------------------------------------------------

static Napi::Value genResultToJs(Napi::Env env, const GenResult & r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("text", r.text);
    o.Set("content", r.content);
    o.Set("reasoning", r.reasoning);
    Napi::Array calls = Napi::Array::New(env, r.toolCalls.size());
    for (size_t i = 0; i < r.toolCalls.size(); i++) {
        Napi::Object c = Napi::Object::New(env);
        c.Set("id", r.toolCalls[i].id);
        c.Set("name", r.toolCalls[i].name);
        c.Set("arguments", r.toolCalls[i].arguments);
        calls.Set((uint32_t) i, c);
    }
    o.Set("toolCalls", calls);
    Napi::Array toks = Napi::Array::New(env, r.tokens.size());
    for (size_t i = 0; i < r.tokens.size(); i++) toks.Set((uint32_t) i, r.tokens[i]);
    o.Set("tokens", toks);
    o.Set("tokensAfterAbort", r.tokensAfterAbort);
    o.Set("promptTokensAfterAbort", r.promptTokensAfterAbort);
    o.Set("stopReason", r.stopReason);
    o.Set("droppedMessages", r.droppedMessages);
    o.Set("shifted", r.shifted);
    o.Set("contextFull", r.contextFull);
    Napi::Object tm = Napi::Object::New(env);
    tm.Set("promptTokens", r.promptTokens);
    tm.Set("cachedTokens", r.cachedTokens);
    tm.Set("generatedTokens", r.generatedTokens);
    tm.Set("ttftMs", r.ttftMs);
    tm.Set("promptMs", r.promptMs);
    tm.Set("genMs", r.genMs);
    // speculative decoding: tokens drafted and accepted (both 0 without a drafter)
    tm.Set("draftTokens", r.draftTokens);
    tm.Set("acceptedTokens", r.acceptedTokens);
    int evaluated = r.promptTokens - r.cachedTokens;
    tm.Set("promptTps", r.promptMs > 0 ? evaluated * 1000.0 / r.promptMs : 0.0);
    // tokens decoded after the first one was sampled, over the time since (llama-bench's tg measure)
    tm.Set("genTps", r.genMs > 0 && r.generatedTokens > 1 ? (r.generatedTokens - 1) * 1000.0 / r.genMs : 0.0);
    o.Set("timings", tm);
    if (!r.probs.empty()) o.Set("probs", probsToJs(env, r.probs));
    return o;
}

static void settle(const std::shared_ptr<Task> & task) {
    auto keep = task;
    task->tsfn.BlockingCall([keep](Napi::Env env, Napi::Function) {
        Task & t = *keep;
        if (t.error) {
            t.deferred->Reject(makeError(env, t.error->code, t.error->message).Value());
            return;
        }
        switch (t.kind) {
            case Task::GENERATE: t.deferred->Resolve(genResultToJs(env, t.gen)); break;
            case Task::EMBED: {
                Napi::Array arr = Napi::Array::New(env, t.embeddings.size());
                for (size_t i = 0; i < t.embeddings.size(); i++) {
                    Napi::Float32Array v = Napi::Float32Array::New(env, t.embeddings[i].size());
                    std::memcpy(v.Data(), t.embeddings[i].data(), t.embeddings[i].size() * sizeof(float));
                    arr.Set((uint32_t) i, v);
                }
                t.deferred->Resolve(arr);
                break;
            }
            case Task::RERANK: {
                Napi::Array arr = Napi::Array::New(env, t.scores.size());
                for (size_t i = 0; i < t.scores.size(); i++) arr.Set((uint32_t) i, Napi::Number::New(env, t.scores[i]));
                Napi::Object o = Napi::Object::New(env);
                o.Set("scores", arr);
                o.Set("tokens", t.pairTokens);
                t.deferred->Resolve(o);
                break;
            }
            case Task::SAVE:
            case Task::RESTORE: {
                Napi::Object o = Napi::Object::New(env);
                o.Set("tokens", t.sessionTokens);
                t.deferred->Resolve(o);
                break;
            }
            case Task::CLEAR: t.deferred->Resolve(env.Undefined()); break;
        }
    });
    task->tsfn.Release();
}

// Runs `fn`, recording any failure on the task as its error code and message.
template <typename F> static void recordErrors(Task & task, F && fn) {
    try {
        fn();
    } catch (...) {
        task.error = currentFailure();
    }
}

// The task leaves the running set and its promise settles, after what it changed is published (a
// caller reading info() once the promise settled sees it).
static void finishTask(Context::State & st, const std::shared_ptr<Task> & task) {
    st.publish(true);
    {
        std::lock_guard<std::mutex> lock(st.mu);
        st.active.erase(std::remove(st.active.begin(), st.active.end(), task), st.active.end());
    }
    if (task->kind == Task::GENERATE) emit(*task, "", "", true); // what the interval held back
    settle(task);
}

// The worker: generation tasks on free sequences run together (up to `parallel` of them), each step
// one decode for all; any other task runs alone, in queue order: when no generation runs, or between
// two steps for a clearing or a small save of a sequence no generation uses.
static void workerLoop(std::shared_ptr<Context::State> st) {
    std::vector<std::unique_ptr<GenRun>> runs;
    bool teamHeld = false; // this thread may lead an idle OpenMP team since its last step (openmp_team.h)
    while (true) {
        std::vector<std::shared_ptr<Task>> admitted;
        std::shared_ptr<Task> solo;
        {
            std::unique_lock<std::mutex> lock(st->mu);
            auto hasWork = [&] { return st->stopping || !st->queue.empty() || !runs.empty(); };
            // out of work a while: its team handed back, so that it does not count against a model working
            // beside this one (a task queued meanwhile is seen by the wait below)
            if (teamHeld && !st->cv.wait_for(lock, TEAM_IDLE_RELEASE, hasWork)) {
                lock.unlock();
                releaseOpenmpTeam();
                teamHeld = false;
                lock.lock();
            }
            st->cv.wait(lock, hasWork);
            teamHeld = true;
            if (st->stopping && runs.empty() && st->queue.empty()) return;
            // admit from the front of the queue only: order is kept
            while (!st->queue.empty() && !st->stopping) {
                auto & front = st->queue.front();
                if (front->kind == Task::GENERATE) {
                    if ((int) runs.size() + (int) admitted.size() >= st->n_seq) break;
                    // one LoRA set per decode (adapters.h): a generation with another set waits for the running ones
                    const std::string & set = !runs.empty() ? runs.front()->task->lora_key : !admitted.empty() ? admitted.front()->lora_key : front->lora_key;
                    if (front->lora_key != set) break;
                    bool busy = false;
                    for (auto & r : runs) busy = busy || r->task->seq == front->seq;
                    for (auto & a : admitted) busy = busy || a->seq == front->seq;
                    if (busy) break;
                    admitted.push_back(front);
                    st->active.push_back(front);
                    st->queue.pop_front();
                } else {
                    // a clearing of a sequence no generation uses, or a save of one whose state is small,
                    // runs between steps (a thread's state saved while another thread's reply generates):
                    // the replies pause while it runs, and a stop of one waits for it. A large save waits
                    // for the replies to end, as a restore does (its cells would be taken from under the
                    // replies' growth); embeddings and reranking decode batches of their own: alone
                    bool side = false;
                    if (!runs.empty() && admitted.empty() && (front->kind == Task::SAVE || front->kind == Task::CLEAR) && front->seq >= 0 && front->seq < st->n_seq) {
                        bool seq_busy = false;
                        for (auto & r : runs) seq_busy = seq_busy || r->task->seq == front->seq;
                        // the state's size asked once (the sequence does not change while the save waits
                        // at the queue's front): it walks every cell
                        if (!seq_busy && front->kind == Task::SAVE && front->saveBytes < 0) front->saveBytes = (int64_t) llama_state_seq_get_size(st->ctx, front->seq);
                        side = !seq_busy && (front->kind == Task::CLEAR || front->saveBytes <= (int64_t) SAVE_BETWEEN_STEPS_BYTES);
                    }
                    if (admitted.empty() && (runs.empty() || side)) {
                        solo = front;
                        st->active.push_back(front);
                        st->queue.pop_front();
                    }
                    break;
                }
            }
            if (st->stopping) {
                for (auto & r : runs) r->task->aborted = true;
            }
        }
        // this step's work, watched by the host (activity.h): a step that makes no progress is a hang
        Activity working("work", st->model->path);
        LlamaUse use; // waits while a fit runs (llama_gate.h); nothing in a step waits for another thread
        // the LoRA set of what runs now: the admitted generations' (when none was running), else the load's
        auto useSet = [&](const std::vector<float> & scales, const std::string & key) {
            if (key == st->lora_applied) return;
            st->adapters.apply(st->ctx, scales);
            st->lora_applied = key;
        };
        if (!admitted.empty() && runs.empty()) useSet(admitted.front()->lora_scales, admitted.front()->lora_key);
        // a task alone runs under the load's set; a save or a clearing between the steps of generations
        // under another set computes nothing and leaves it
        if (solo && runs.empty()) useSet(st->adapters.defaults(), st->adapters.keyOf(st->adapters.defaults()));
        for (auto & task : admitted) {
            auto run = std::make_unique<GenRun>();
            run->task = task;
            recordErrors(*task, [&] {
                if (task->aborted) throw HearthError(codes::aborted, "the request was aborted before it ran");
                prepareRun(*st, *run);
                runs.push_back(std::move(run));
            });
            if (task->error) finishTask(*st, task);
        }
        if (solo) {
            auto task = solo;
            st->abort_flag = &task->aborted;
            recordErrors(*task, [&] {
                if (task->aborted) throw HearthError(codes::aborted, "the request was aborted before it ran");
                switch (task->kind) {
                    case Task::EMBED: runEmbed(*st, *task); break;
                    case Task::RERANK: runRerank(*st, *task); break;
                    case Task::SAVE: runSave(*st, *task); break;
                    case Task::RESTORE:
                        runRestore(*st, *task);
                        st->seq_lora[task->seq] = st->lora_applied; // the load's set (set above): a saved state is taken as computed under it
                        break;
                    case Task::CLEAR:
                        llama_memory_seq_rm(llama_get_memory(st->ctx), task->seq, -1, -1);
                        st->seq_tokens[task->seq].clear();
                        break;
                    case Task::GENERATE: break;
                }
            });
            st->abort_flag = nullptr;
            finishTask(*st, task);
            continue;
        }
        if (runs.empty()) continue;
        try {
            stepRuns(*st, runs);
        } catch (...) {
            const Failure f = currentFailure();
            for (auto & r : runs) {
                if (!r->ended()) r->fail(f.code, f.message);
            }
        }
        st->publish(false);
        for (auto it = runs.begin(); it != runs.end();) {
            GenRun & run = **it;
            if (!run.ended()) { ++it; continue; }
            finishRun(run);
            finishTask(*st, run.task);
            it = runs.erase(it);
        }
    }
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
    const EngineParams ep = parseEngineParams(info.Length() > 1 ? info[1] : env.Undefined());
    cp = contextParams(ep.context, st->model->model);
    const AdapterParams adapters = ep.load.adapters;
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

// embed(texts, {id}?) -> Promise<Float32Array[]>; the id names it for abort(id)
Napi::Value Context::Embed(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw makeError(env, codes::invalid_argument, "embed(texts, {id}?): texts must be an array of strings");
    auto task = std::make_shared<Task>();
    task->kind = Task::EMBED;
    double id = optNumber(info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env), "id", 0);
    if (id < 0 || std::floor(id) != id) throw HearthError(codes::invalid_argument, "embed: id must be an integer >= 0");
    task->id = (uint64_t) id;
    Napi::Array arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
        if (!arr.Get(i).IsString()) throw makeError(env, codes::invalid_argument, "embed(texts): texts must be strings");
        task->texts.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
    return enqueue(env, task, env.Undefined());
}

// rerank(query, documents, {id}?) -> Promise<{scores, tokens}>: a relevance score per document (rank
// pooling), and the tokens of all the query/document pairs evaluated
Napi::Value Context::Rerank(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
        throw makeError(env, codes::invalid_argument, "rerank(query, documents, {id}?): a query string and an array of document strings");
    }
    auto task = std::make_shared<Task>();
    task->kind = Task::RERANK;
    double id = optNumber(info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env), "id", 0);
    if (id < 0 || std::floor(id) != id) throw HearthError(codes::invalid_argument, "rerank: id must be an integer >= 0");
    task->id = (uint64_t) id;
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
