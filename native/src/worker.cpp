// A context's worker thread: the scheduler over its task queue (worker.h), and what it publishes and
// settles.
#include "worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "activity.h"
#include "embed.h"
#include "session.h"
#include "generation.h"
#include "kv_space.h"
#include "limits.h"
#include "memory.h"
#include "vision.h"
#include "llama_gate.h"
#include "openmp_team.h"
#include "params.h"
#include "util.h"

namespace hearth {

// The largest sequence state saved or restored between the steps of running generations (they pause
// meanwhile: at a page cache's gigabyte a second or more, a fraction of a second)
static constexpr size_t SIDE_STATE_BYTES = 256u << 20;

// Whether a restore may run between the steps of running generations: its file is small, and the cache
// keeps room beside the cells it will hold (those the sequence holds now are freed for it) for a
// micro-batch more. The cache is then as if the thread had stayed cached: the replies' growth drops an
// idle sequence's cells (this one's too, before its turn runs) as it drops any. Its file's token count
// (restoreCells) was read by the worker, outside the queue's lock (measureRestore).
static bool restoreBeside(Context::State & st, const Task & t) {
    if (t.restoreAlone || t.restoreCells < 0) return false;
    const int64_t room = (int64_t) kvCellsFree(st) + (int64_t) st.seq_tokens[t.seq].size();
    return room >= t.restoreCells + (int64_t) llama_n_ubatch(st.ctx);
}

// The token count a restore's file states (its header: a few bytes), or -1 when the file is larger than
// SIDE_STATE_BYTES or no session file (the restore then runs alone, and says why)
static void measureRestore(Task & t) {
    uint64_t size = 0;
    const int64_t nt = sessionFileTokens(t.path, size);
    t.restoreCells = nt >= 0 && size <= SIDE_STATE_BYTES ? nt : -1;
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
    tm.Set("tokenizedTokens", r.tokenizedTokens);
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

void settle(const std::shared_ptr<Task> & task) {
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
// two steps for a clearing, or a small save or restore, of a sequence no generation uses.
void workerLoop(std::shared_ptr<Context::State> st) {
    std::vector<std::unique_ptr<GenRun>> runs;
    bool teamHeld = false; // this thread may lead an idle OpenMP team since its last step (openmp_team.h)
    // a task ran between the running generations' steps since their last step: the next waits for a step,
    // so that side tasks in a row never hold the replies (and a stop of one) for longer than one of them
    bool sideSinceStep = false;
    // the stop of a running generation, which a save or restore between their steps gives way to
    const std::function<bool()> replyStopped = [&] {
        for (auto & r : runs) {
            if (!r->ended() && r->task->aborted) return true;
        }
        return false;
    };
    while (true) {
        std::vector<std::shared_ptr<Task>> admitted;
        std::shared_ptr<Task> solo;
        std::shared_ptr<Task> measure; // a restore waiting beside generations whose file's size is to be read
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
            // a save that gave way keeps its sequence while it waits at the front (a dropped one keeps none)
            st->keep_seq = !st->queue.empty() && st->queue.front()->kind == Task::SAVE && st->queue.front()->gaveWay ? st->queue.front()->seq : -1;
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
                    // a clearing of a sequence no generation uses, or a save or a restore of one whose
                    // state is small, runs between steps (a thread's state saved, or restored, while
                    // another thread's reply generates): the replies pause while it runs; a stop of one
                    // waits for a clearing, and a save or restore gives way to it (queued again). A large
                    // save or restore, or one without room beside the replies (see restoreBeside), waits
                    // for them to end; embeddings and reranking decode batches of their own: alone
                    bool side = false;
                    const bool sideKind = front->kind == Task::SAVE || front->kind == Task::CLEAR || front->kind == Task::RESTORE;
                    if (!runs.empty() && admitted.empty() && !sideSinceStep && sideKind && front->seq >= 0 && front->seq < st->n_seq) {
                        bool seq_busy = false;
                        for (auto & r : runs) seq_busy = seq_busy || r->task->seq == front->seq;
                        // the state's size asked once: it walks every cell (a save that gave way to a stop
                        // keeps its sequence as it was: keep_seq)
                        if (!seq_busy && front->kind == Task::SAVE && front->saveBytes < 0) front->saveBytes = (int64_t) llama_state_seq_get_size(st->ctx, front->seq);
                        if (seq_busy) side = false;
                        else if (front->kind == Task::CLEAR) side = true;
                        else if (front->kind == Task::SAVE) side = front->saveBytes <= (int64_t) SIDE_STATE_BYTES;
                        else if (front->restoreCells == -2 && !front->restoreAlone) measure = front;
                        else side = restoreBeside(*st, *front);
                    }
                    if (admitted.empty() && (runs.empty() || side)) {
                        sideSinceStep = !runs.empty();
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
        if (measure) measureRestore(*measure); // admitted at a later turn, when it fits beside them
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
            const bool beside = !runs.empty();
            if (beside) st->also_stop = &replyStopped;
            TaskOutcome outcome = TaskOutcome::Done; // a save or restore beside generations queued again: Refused, Preempted
            recordErrors(*task, [&] {
                if (task->aborted) throw HearthError(codes::aborted, "the request was aborted before it ran");
                switch (task->kind) {
                    case Task::EMBED: runEmbed(*st, *task); break;
                    case Task::RERANK: runRerank(*st, *task); break;
                    case Task::SAVE: outcome = runSave(*st, *task); break;
                    case Task::RESTORE:
                        outcome = runRestore(*st, *task, beside);
                        // a saved state is taken as computed under the load's set
                        if (outcome == TaskOutcome::Done) st->seq_lora[task->seq] = st->adapters.keyOf(st->adapters.defaults());
                        break;
                    case Task::CLEAR:
                        llama_memory_seq_rm(llama_get_memory(st->ctx), task->seq, -1, -1);
                        st->seq_tokens[task->seq].clear();
                        break;
                    case Task::GENERATE: break;
                }
            });
            st->abort_flag = nullptr;
            st->also_stop = nullptr;
            if (outcome != TaskOutcome::Done && !task->error) {
                std::lock_guard<std::mutex> lock(st->mu);
                // back at the queue's front (refused: to run alone; preempted: beside them again after a
                // step), unless stopped meanwhile (then it settles as stopped)
                if (!st->stopping && !task->aborted) {
                    task->restoreAlone = task->restoreAlone || outcome == TaskOutcome::Refused;
                    task->gaveWay = task->kind == Task::SAVE;
                    st->keep_seq = task->gaveWay ? task->seq : -1; // until the next admission reads the front
                    st->active.erase(std::remove(st->active.begin(), st->active.end(), task), st->active.end());
                    st->queue.push_front(task);
                    continue;
                }
                task->error = Failure{codes::aborted, "the request was aborted"};
            }
            finishTask(*st, task);
            continue;
        }
        if (runs.empty()) continue;
        sideSinceStep = false;
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

} // namespace hearth
