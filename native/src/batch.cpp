// Stepping the running generations: each step plans one decode (the pending token of every generating run,
// then prompt chunks) within a micro-batch and the KV cache's free cells, decodes it, and samples for each
// run whose logits came. Runs on the context's worker thread.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "activity.h"
#include "generation.h"
#include "kv_space.h"
#include "speculation.h"
#include "util.h"
#include "vision.h"

namespace hearth {

// What one run puts in a batch: prompt tokens [from, to), or its pending token (gen).
struct Part {
    GenRun * run;
    size_t from, to;
    bool gen;
};

// A run that fails ends with the error, unless it was aborted: then it stops (aborted), as asked.
static void failRun(GenRun & run, Code code, const std::string & msg) {
    if (run.ended()) return;
    if (run.task->aborted) run.stop("aborted");
    else run.fail(code, msg);
}

// Test hooks (HEARTH_TEST_HOOKS=1 only): HEARTH_TEST_FAIL="sample:<seq>" makes sampling on that sequence
// throw, "decode:<seq>" makes every decode holding that sequence fail, as llama.cpp's own failures would;
// "rollback:<seq>" fails the decodes holding that sequence once it has something cached, and has its memory
// refuse to drop the failed batch, as a recurrent or hybrid model's does (llama_memory_seq_rm returns
// false for a partial removal).
static int testFailSeq(const char * kind) {
    static const std::string hook = [] {
        const char * on = std::getenv("HEARTH_TEST_HOOKS");
        const char * v = std::getenv("HEARTH_TEST_FAIL");
        return on && std::string(on) == "1" && v ? std::string(v) : std::string();
    }();
    const std::string prefix = std::string(kind) + ":";
    return hook.compare(0, prefix.size(), prefix) == 0 ? std::atoi(hook.c_str() + prefix.size()) : -1;
}

// Test hook: HEARTH_TEST_FAIL="hold:<dir>" makes every decode first wait, aborts or not, until the file
// <dir>/release exists (at most 20 s, then <dir>/timed-out is written), as a decode on a GPU backend runs
// to the end of its micro-batch whatever llama.cpp's abort callback says; <dir>/held tells the test
// that a decode is being held.
static void testHoldDecode() {
    static const std::string dir = [] {
        const char * on = std::getenv("HEARTH_TEST_HOOKS");
        const char * v = std::getenv("HEARTH_TEST_FAIL");
        const std::string hook = on && std::string(on) == "1" && v ? std::string(v) : std::string();
        return hook.compare(0, 5, "hold:") == 0 ? hook.substr(5) : std::string();
    }();
    if (dir.empty()) return;
    const std::string release = dir + "/release";
    if (std::ifstream(release)) return;
    std::ofstream(dir + "/held") << "held\n";
    for (int i = 0; i < 2000 && !std::ifstream(release); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!std::ifstream(release)) std::ofstream(dir + "/timed-out") << "timed out\n";
}

// Speculative decoding: the run's pending token and its draft are decoded; the run's sampler decides how
// much of the draft it takes (specVerify), the rejected tail leaves the cache, and each accepted token goes
// through onToken as if sampled one at a time. A run that stops midway keeps in its cache only the tokens
// before the one it stopped on (as without a draft: the last sampled token is never decoded).
static void verifyDraft(Context::State & st, GenRun & run, const std::vector<int> & idxs) {
    llama_memory_t mem = llama_get_memory(st.ctx);
    const int seq = run.task->seq;
    std::vector<llama_token> & cached = st.seq_tokens[seq];
    const std::vector<llama_token> ids = specVerify(st.spec.get(), st.ctx, run, idxs);
    const size_t base = cached.size(); // the pending token is in; ids[j] (j < accepted) sits at base + j
    const size_t accepted = ids.size() - 1;
    cached.insert(cached.end(), run.draft.begin(), run.draft.begin() + accepted);
    llama_memory_seq_rm(mem, seq, (llama_pos) cached.size(), -1);
    run.draft.clear();
    for (size_t j = 0; j < ids.size(); j++) {
        if (run.n_probs > 0) run.probs = tokenProbs(st.ctx, idxs[j], ids[j], run.n_probs, run.probs_ids);
        onToken(st, run, ids[j]);
        if (!run.ended()) continue;
        if (cached.size() > base + j) {
            llama_memory_seq_rm(mem, seq, (llama_pos) (base + j), -1);
            cached.resize(base + j);
        }
        break;
    }
}

// Decodes the parts as one batch, then samples for each run whose logits came. A failed batch of several
// runs is retried one run at a time, so only a run that fails on its own fails (its request gets
// decode_failed; the others go on). A sampling failure (a grammar that cannot go on, ...) fails only its run.
static void decodeParts(Context::State & st, const std::vector<Part> & parts) {
    llama_memory_t mem = llama_get_memory(st.ctx);
    common_batch_clear(st.batch);
    std::vector<int> logits_idx(parts.size(), -1);
    std::vector<std::vector<int>> draft_idx(parts.size()); // a run with a draft: its pending token's and each draft token's outputs
    bool hooked = false;
    for (size_t i = 0; i < parts.size(); i++) {
        const Part & p = parts[i];
        GenRun & run = *p.run;
        const int seq = run.task->seq;
        hooked = hooked || seq == testFailSeq("decode") || (seq == testFailSeq("rollback") && !st.seq_tokens[seq].empty());
        if (p.gen) {
            common_batch_add(st.batch, run.pending, (llama_pos) st.seq_tokens[seq].size(), {seq}, true);
            logits_idx[i] = st.batch.n_tokens - 1;
            if (!run.draft.empty()) {
                // speculative decoding: the draft follows, every token with its logits for the verdict
                draft_idx[i].push_back(logits_idx[i]);
                for (size_t j = 0; j < run.draft.size(); j++) {
                    common_batch_add(st.batch, run.draft[j], (llama_pos) (st.seq_tokens[seq].size() + 1 + j), {seq}, true);
                    draft_idx[i].push_back(st.batch.n_tokens - 1);
                }
            }
        } else {
            for (size_t j = p.from; j < p.to; j++) common_batch_add(st.batch, run.prompt[j], (llama_pos) j, {seq}, j + 1 == run.prompt.size());
            if (p.to == run.prompt.size()) logits_idx[i] = st.batch.n_tokens - 1;
        }
    }
    // llama.cpp's abort callback stops a long prompt midway when its only run is aborted
    st.abort_flag = parts.size() == 1 ? &parts[0].run->task->aborted : nullptr;
    testHoldDecode();
    AllocationWatch allocation; // -2 is out_of_memory only when llama.cpp logged an allocation failure
    const int rc = hooked ? -3 : llama_decode(st.ctx, st.batch);
    progressHere(); // the host's watchdog (activity.h)
    st.abort_flag = nullptr;
    if (rc != 0) {
        std::string used;
        for (int s = 0; s < st.n_seq; s++) used += (s ? "," : "") + std::to_string(st.seq_tokens[s].size());
        const std::string why = "llama_decode failed (code " + std::to_string(rc) + "; batch of " + std::to_string(st.batch.n_tokens) +
                                " tokens; sequences hold " + used + " of " + std::to_string(llama_n_ctx(st.ctx)) + ")";
        const Code code = decodeFailure(rc, allocation.failed());
        for (const Part & p : parts) {
            // what a failed decode left of this batch in the cache goes. A recurrent or hybrid model's memory
            // cannot drop a tail (seq_rm returns false): then the whole sequence goes, its cache is empty,
            // and its run, which has lost its place, fails. On such a model that is every sequence whose
            // micro-batch ran; the runs whose tail could go are retried
            const int seq = p.run->task->seq;
            const bool dropped = llama_memory_seq_rm(mem, seq, (llama_pos) st.seq_tokens[seq].size(), -1) && seq != testFailSeq("rollback");
            if (!dropped) {
                llama_memory_seq_rm(mem, seq, -1, -1);
                st.seq_tokens[seq].clear();
                failRun(*p.run, code, why + "; this model's memory cannot drop a failed batch, so the sequence was cleared");
            }
        }
        if (st.closing) {
            for (const Part & p : parts) failRun(*p.run, codes::aborted, "the context was disposed");
            return;
        }
        if (parts.size() > 1) {
            for (const Part & p : parts) {
                if (!p.run->ended()) decodeParts(st, {p});
            }
            return;
        }
        failRun(*parts[0].run, code, why);
        return;
    }
    for (size_t i = 0; i < parts.size(); i++) {
        const Part & p = parts[i];
        GenRun & run = *p.run;
        std::vector<llama_token> & cached = st.seq_tokens[run.task->seq];
        if (p.gen) {
            cached.push_back(run.pending);
            run.pending = LLAMA_TOKEN_NULL;
        } else {
            cached.insert(cached.end(), run.prompt.begin() + p.from, run.prompt.begin() + p.to);
            run.promptDecoded(p.to);
            // (a prompt with images is not drafted for: the draft model cannot read an image's placeholders)
            if (p.to == run.prompt.size() && st.spec && !run.rc.media) specBegin(*st.spec, run.task->seq, cached);
        }
        if (logits_idx[i] < 0) continue; // a prompt chunk before the last
        if (run.task->aborted) {
            if (!run.draft.empty()) llama_memory_seq_rm(mem, run.task->seq, (llama_pos) cached.size(), -1);
            run.draft.clear();
            run.stop("aborted");
            continue;
        }
        try {
            if (run.task->seq == testFailSeq("sample")) throw std::runtime_error("test hook: sampling failed");
            if (!draft_idx[i].empty()) {
                verifyDraft(st, run, draft_idx[i]);
                continue;
            }
            // plain greedy takes the largest logit (what the greedy chain, top-k 1, picks) without filling and
            // scanning a candidate array of the whole vocabulary for every token
            if (!run.argmax) refuseNonFinite(st.ctx, logits_idx[i]);
            llama_token tok = run.argmax ? greedyToken(st.ctx, logits_idx[i]) : common_sampler_sample(run.smpl.get(), st.ctx, logits_idx[i]);
            common_sampler_accept(run.smpl.get(), tok, true);
            if (run.n_probs > 0) run.probs = tokenProbs(st.ctx, logits_idx[i], tok, run.n_probs, run.probs_ids);
            onToken(st, run, tok);
        } catch (...) {
            // a sampler or grammar that throws fails this run alone
            Failure f = currentFailure();
            if (f.code == codes::internal) failRun(run, codes::sampling_failed, "sampling failed: " + f.message);
            else failRun(run, f.code, f.message);
        }
    }
}

// How often one image's decode gives way to other runs' stops: after that, a stop waits for the decode
// (its encode, which is kept, always gives way), so that stops asked again and again cannot keep an
// image from ever being read
static constexpr int IMAGE_PREEMPTIONS = 3;

// The images that runs reading their prompt have reached: each one's embeddings decoded on its run's
// sequence (an image at a time, alone: mtmd decodes it in batches of its own), when the cache has room
// for it (else it waits, as a prompt chunk does). True when any image was decoded, or one was stopped
// for another run's stop (it is read again at the next step).
static bool stepImages(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs, const std::vector<bool> & busy) {
    bool any = false;
    llama_memory_t mem = llama_get_memory(st.ctx);
    const llama_model * model = st.model->model;
    // what was decoded of an image can be taken off the sequence again, except in a recurrent state
    const bool tail_removable = !llama_model_is_recurrent(model) && !llama_model_is_hybrid(model);
    const int n_swa = llama_model_n_swa(model);
    for (auto & up : runs) {
        GenRun & run = *up;
        if (!run.rc.media || !st.model->vision) continue;
        while (run.state() == SlotState::Prompt && !run.task->aborted) {
            const auto it = run.rc.media->images.find(run.nextPrompt());
            if (it == run.rc.media->images.end()) break;
            const size_t start = it->first;
            const int n = (int) it->second.n_tokens;
            if (kvCellsFree(st) < n && kvMakeRoom(st, busy, n) < n) break;
            const int seq = run.task->seq;
            std::vector<llama_token> & cached = st.seq_tokens[seq];
            // the image stops for this run's stop or the context's disposal, and for another run's stop,
            // which would otherwise wait for the whole encode and decode (seconds on a CPU): that one ends
            // after this step, and this run's image is read again at the next (its encode kept). The
            // decode stops only where llama.cpp's abort callback is read (the CPU backend), only where
            // its part can be dropped leaving the cache as it was (not in a recurrent state, nor on a
            // sliding window when the image spans micro-batches: a later one may take cells of the window
            // an earlier one's positions need), and IMAGE_PREEMPTIONS times at most
            const bool decode_preemptible = tail_removable && (n_swa == 0 || n <= (int) llama_n_ubatch(st.ctx)) && run.image_preemptions < IMAGE_PREEMPTIONS;
            bool preempted = false;
            bool preemptible = true;
            const std::function<bool()> others = [&] {
                if (!preemptible) return false;
                for (auto & other : runs) {
                    if (other.get() != &run && !other->ended() && other->task->aborted) return preempted = true;
                }
                return false;
            };
            st.abort_flag = &run.task->aborted;
            st.also_stop = &others;
            try {
                if (run.encoded_at != start) {
                    run.encoded = encodeImage(*st.model->vision, st.ctx, it->second, [&] { return st.aborting(); });
                    run.encoded_at = start;
                }
                preemptible = preemptible && decode_preemptible;
                decodeImage(*st.model->vision, st.ctx, it->second, run.encoded, (int) start, seq, st.n_batch);
            } catch (...) {
                st.abort_flag = nullptr;
                st.also_stop = nullptr;
                const Failure f = currentFailure();
                // what was decoded of the image goes (all of the sequence, where a tail cannot)
                const bool dropped = llama_memory_seq_rm(mem, seq, (llama_pos) cached.size(), -1);
                // stopped for another run: read again at the next step (true: this run waits for its
                // image, not for room)
                if (dropped && preempted && f.code == codes::aborted && !run.task->aborted && !st.closing) {
                    if (run.encoded_at == start) run.image_preemptions++; // its decode gave way
                    return true;
                }
                if (!dropped) {
                    llama_memory_seq_rm(mem, seq, -1, -1);
                    cached.clear();
                }
                failRun(run, f.code, f.message);
                break;
            }
            st.abort_flag = nullptr;
            st.also_stop = nullptr;
            progressHere();
            run.encoded = std::vector<float>();
            run.encoded_at = SIZE_MAX;
            run.image_preemptions = 0;
            cached.insert(cached.end(), run.prompt.begin() + start, run.prompt.begin() + start + n);
            run.promptDecoded(start + (size_t) n);
            any = true;
        }
    }
    return any;
}

// Speculative decoding: drafts for the generating runs, each at most an equal share of the step's room
// beyond the pending tokens (one micro-batch, within the batch) and what its request may still generate;
// the drafter caps it by its own limit (as llama-server: the draft model's draftMax, an n-gram kind's own).
static void draftRuns(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs, int generating, int budget) {
    const int share = std::max(0, budget - generating) / generating;
    std::vector<DraftAsk> asks;
    for (auto & up : runs) {
        GenRun & run = *up;
        if (run.state() != SlotState::Generating || run.rc.media) continue; // no drafts over images (specBegin)
        int n_max = share;
        if (run.max_tokens >= 0) n_max = std::min(n_max, run.max_tokens - run.task->gen.generatedTokens - 1);
        asks.push_back({&run, std::max(0, n_max)});
    }
    specDraft(*st.spec, st.seq_tokens, asks);
}

// One step of every running generation: the pending token of each run generating (first) and the next
// prompt chunk of runs still reading their prompt, within one micro-batch (llama_n_ubatch) and the free
// cells of the KV cache, which the sequences share. About one micro-batch per decode, because aborts are
// checked between decodes: llama.cpp's abort callback is read only by the CPU backend, so on CUDA,
// Vulkan or Metal a decode of a whole batch (several micro-batches) could not be stopped midway. The
// generating runs' tokens always go in (parallel may exceed the micro-batch, never the batch: limits.cpp),
// with room for at least one prompt token. When the cache is full: idle sequences' cached prefixes go
// first; then a run with the shift policy shifts its own sequence (keeping its system prompt), a
// generating run without it ends (length, contextFull), and a prompt waits for room (or, when no run
// could move at all, the newest prompt fails: context_overflow).
void stepRuns(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs) {
    std::vector<bool> busy(st.n_seq, false);
    int generating = 0;
    for (auto & up : runs) {
        GenRun & run = *up;
        if (!run.ended() && run.task->aborted) run.stop("aborted");
        if (!run.ended()) busy[run.task->seq] = true;
        if (run.state() == SlotState::Generating) generating++;
    }
    // a run whose prompt reaches an image decodes the image's embeddings first, alone (vision.cpp)
    const bool imaged = stepImages(st, runs, busy);
    // a stop that came during an image's encode ends its run with this step, not the next
    for (auto & up : runs) {
        if (!up->ended() && up->task->aborted) up->stop("aborted");
    }
    // the generating runs' tokens and up to one micro-batch of prompt, within the batch (parallel <=
    // n_batch: limits.cpp): a prompt reads at full speed beside generating sequences, and an abort lands
    // within at most two micro-batches
    int budget = std::max(generating, std::min(st.n_batch, generating + st.n_ubatch));
    int planned = 0; // cells the parts below will take
    int free = kvCellsFree(st);
    if (st.spec && generating > 0) draftRuns(st, runs, generating, budget);
    std::vector<Part> parts;
    int after = generating; // the generating runs still to plan, this one included: each needs one cell
    for (auto & up : runs) {
        GenRun & run = *up;
        if (run.state() != SlotState::Generating || budget < 1) continue;
        after--;
        // room for the pending token (idle sequences' cached prefixes go first), then a draft takes the
        // cells and batch room already free after it and after the pending tokens of the runs planned
        // next: no cache, and no other run, gives way to tokens that may be rejected (as llama-server
        // bounds a draft by its free context); what does not fit is not verified
        if (free < 1) free = kvMakeRoom(st, busy, planned + 1) - planned;
        const int room = std::min(free, budget) - 1 - after;
        if ((int) run.draft.size() > room) run.draft.resize((size_t) std::max(0, room));
        if (run.draft.empty()) run.drafted_by_spec = false;
        // (never over images: a shift could cut one in two, as llama-server refuses context shift with a projector)
        if (free < 1 && run.policy == "shift" && !run.rc.media && kvShift(st, run.task->seq, run.n_keep)) {
            run.task->gen.shifted = true;
            free = kvCellsFree(st) - planned;
        }
        if (free < 1) {
            run.task->gen.contextFull = true;
            run.stop("length");
            busy[run.task->seq] = false; // what it held can go to the others
            continue;
        }
        parts.push_back({&run, 0, 0, true});
        const int took = 1 + (int) run.draft.size();
        budget -= took;
        free -= took;
        planned += took;
    }
    GenRun * newest_waiting = nullptr;
    for (auto & up : runs) {
        GenRun & run = *up;
        if (run.state() != SlotState::Prompt || budget < 1) continue;
        // text up to the prompt's next image (which the next step decodes)
        size_t end = run.prompt.size();
        if (run.rc.media) end = std::min(end, run.rc.media->nextImage(run.nextPrompt()));
        const int want = (int) std::min<size_t>(end - run.nextPrompt(), (size_t) budget);
        if (want < 1) { newest_waiting = &run; continue; }
        if (free < want) free = kvMakeRoom(st, busy, planned + want) - planned;
        const int n = std::min(want, free);
        if (n < 1) { newest_waiting = &run; continue; }
        parts.push_back({&run, run.nextPrompt(), run.nextPrompt() + (size_t) n, false});
        budget -= n;
        free -= n;
        planned += n;
    }
    if (parts.empty()) {
        if (newest_waiting && !imaged) {
            failRun(*newest_waiting, codes::context_overflow, "the context is full: its " + std::to_string(llama_n_ctx(st.ctx)) + " cells are shared by " +
                                                             std::to_string(st.n_seq) + " parallel sequences (raise the context size or lower parallel)");
        }
        return;
    }
    decodeParts(st, parts);
}

} // namespace hearth
