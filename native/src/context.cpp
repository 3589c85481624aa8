#include "context.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "chat_render.h"
#include "memory.h"
#include "json-schema-to-grammar.h"
#include "sampling.h"
#include "util.h"

namespace hearth {

using Clock = std::chrono::steady_clock;
static double msSince(Clock::time_point t0, Clock::time_point t1) {
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

Napi::FunctionReference Context::constructor;

// ---- tasks ---------------------------------------------------------------------------------------

struct GenResult {
    std::string text, content, reasoning, stopReason;
    std::vector<common_chat_tool_call> toolCalls;
    std::vector<llama_token> tokens; // generated token ids
    int promptTokens = 0, cachedTokens = 0, generatedTokens = 0, droppedMessages = 0;
    int tokensAfterAbort = -1; // tokens generated after abort() was called (-1: not aborted while running)
    bool shifted = false, contextFull = false;
    double ttftMs = 0, promptMs = 0, genMs = 0;
};

struct Task {
    enum Kind { GENERATE, EMBED, SAVE, RESTORE, CLEAR } kind = GENERATE;
    uint64_t id = 0;
    int seq = 0;
    common_json req;
    std::vector<std::string> texts;
    std::string path;
    std::atomic<bool> aborted{false};
    std::atomic<int> generated{0};      // tokens generated so far, read by abort()
    std::atomic<int> abortedAt{-1};     // `generated` when abort() was called on the running task
    Napi::ThreadSafeFunction tsfn;
    std::mutex out_mu;                  // streamed text not yet handed to JS
    std::string out_content, out_reasoning;
    bool out_scheduled = false;
    std::chrono::steady_clock::time_point last_emit{}; // when a call to JS was last queued
    std::shared_ptr<Napi::Promise::Deferred> deferred;
    // set by the worker
    std::string errCode, errMsg;
    GenResult gen;
    std::vector<std::vector<float>> embeddings;
    int sessionTokens = 0;
};

struct Context::State {
    std::shared_ptr<ModelHandle> model;
    llama_context * ctx = nullptr;
    llama_batch batch{};
    int n_batch = 0;
    int n_seq = 1;
    bool embeddings = false;
    ggml_type type_k = GGML_TYPE_F16, type_v = GGML_TYPE_F16;
    std::string flash_attn = "auto"; // as asked: auto, on or off
    int threads = 0, threads_batch = 0;
    std::vector<std::vector<llama_token>> seq_tokens;

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::shared_ptr<Task>> queue;
    std::vector<std::shared_ptr<Task>> active; // running now (several generations, or one other task)
    std::atomic<std::atomic<bool> *> abort_flag{nullptr};
    bool stopping = false;
    std::thread worker;

    ~State() {
        if (ctx) llama_free(ctx);
        if (batch.token) llama_batch_free(batch);
    }
};

static bool abortCallback(void * data) {
    auto * st = static_cast<Context::State *>(data);
    std::atomic<bool> * f = st->abort_flag.load();
    return f && f->load();
}

// ---- helpers -------------------------------------------------------------------------------------

static ggml_type parseCacheType(const std::string & s, const char * key) {
    static const std::pair<const char *, ggml_type> types[] = {
        {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16}, {"q8_0", GGML_TYPE_Q8_0},
        {"q4_0", GGML_TYPE_Q4_0}, {"q4_1", GGML_TYPE_Q4_1}, {"iq4_nl", GGML_TYPE_IQ4_NL}, {"q5_0", GGML_TYPE_Q5_0},
        {"q5_1", GGML_TYPE_Q5_1},
    };
    for (auto & t : types) if (s == t.first) return t.second;
    throw HearthError("invalid_argument", std::string(key) + " must be one of f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1");
}

static uint32_t optUint(const Napi::Object & o, const char * key, uint32_t def, uint32_t lo, uint32_t hi) {
    double v = optNumber(o, key, def);
    if (std::floor(v) != v || v < lo || v > hi) {
        throw HearthError("invalid_argument", std::string(key) + " must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return (uint32_t) v;
}

// length of the longest suffix of `text` that is a proper prefix of one of the stop strings
static size_t partialStopLen(const std::string & text, const std::vector<std::string> & stops) {
    size_t best = 0;
    for (const auto & s : stops) {
        size_t max = std::min(text.size(), s.size() - 1);
        for (size_t k = max; k > best; k--) {
            if (text.compare(text.size() - k, k, s, 0, k) == 0) { best = k; break; }
        }
    }
    return best;
}

// number of trailing bytes that form an incomplete UTF-8 sequence
static size_t incompleteUtf8(const std::string & s) {
    size_t n = s.size();
    for (size_t i = 1; i <= 4 && i <= n; i++) {
        unsigned char c = (unsigned char) s[n - i];
        if ((c & 0xC0) == 0x80) continue; // continuation byte
        size_t need = (c & 0x80) == 0 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > i ? i : 0;
    }
    return 0;
}

// Streamed text is coalesced: a piece is appended to the task's buffer, and a call to JS is queued only
// when none is pending and the last one was at least kEmitInterval ago (the first piece goes at once);
// that call takes everything buffered. So JS, the host's IPC and the app wake at most ~20 times a
// second however fast tokens come, and those wake-ups do not take turns from the decoding threads.
// finishTask() flushes what is left (`now`) before the result settles.
static constexpr auto kEmitInterval = std::chrono::milliseconds(50);
static void emit(Task & t, const std::string & content, const std::string & reasoning, bool now = false) {
    std::lock_guard<std::mutex> lock(t.out_mu);
    t.out_content += content;
    t.out_reasoning += reasoning;
    if (t.out_content.empty() && t.out_reasoning.empty()) return;
    if (t.out_scheduled) return;
    const auto tnow = Clock::now();
    if (!now && tnow - t.last_emit < kEmitInterval) return;
    t.last_emit = tnow;
    t.out_scheduled = true;
    Task * task = &t; // alive until settle(), whose call is queued after this one
    t.tsfn.NonBlockingCall([task](Napi::Env env, Napi::Function fn) {
        std::string c, r;
        {
            std::lock_guard<std::mutex> lock(task->out_mu);
            c.swap(task->out_content);
            r.swap(task->out_reasoning);
            task->out_scheduled = false;
        }
        if (c.empty() && r.empty()) return;
        Napi::Object o = Napi::Object::New(env);
        if (!c.empty()) o.Set("content", c);
        if (!r.empty()) o.Set("reasoning", r);
        if (fn) fn.Call({o});
    });
}

// ---- generation (worker thread) -------------------------------------------------------------------

static void fillSampling(common_params_sampling & sp, const common_json & s, int n_vocab) {
    if (!s.is_object()) return;
    sp.temp = s.value("temperature", sp.temp);
    sp.top_k = s.value("topK", sp.top_k);
    sp.top_p = s.value("topP", sp.top_p);
    sp.min_p = s.value("minP", sp.min_p);
    sp.typ_p = s.value("typicalP", sp.typ_p);
    sp.penalty_repeat = s.value("repeatPenalty", sp.penalty_repeat);
    sp.penalty_last_n = s.value("repeatLastN", sp.penalty_last_n);
    sp.penalty_present = s.value("presencePenalty", sp.penalty_present);
    sp.penalty_freq = s.value("frequencyPenalty", sp.penalty_freq);
    if (s.contains("seed") && s.at("seed").is_number()) sp.seed = (uint32_t) s.at("seed").get<int64_t>();
    if (sp.temp <= 0.0f) {
        // greedy: the most likely token (after penalties and biases); top-k 1 finds it without sorting
        sp.samplers = {COMMON_SAMPLER_TYPE_PENALTIES, COMMON_SAMPLER_TYPE_TOP_K};
        sp.top_k = 1;
    }
    if (s.contains("logitBias") && s.at("logitBias").is_array()) {
        const common_json & lb = s.at("logitBias");
        for (size_t i = 0; i < lb.size(); i++) {
            int tok = lb[i].value("token", -1);
            float bias = lb[i].value("bias", 0.0f);
            if (tok < 0 || tok >= n_vocab) throw HearthError("invalid_argument", "logitBias token " + std::to_string(tok) + " is outside the vocabulary");
            sp.logit_bias.push_back({tok, bias});
        }
    }
}

// A generation in progress. Several can run at once on different sequences (parallel slots): each
// step decodes one batch holding the next prompt chunk or the last sampled token of every run.
struct GenRun {
    std::shared_ptr<Task> task;
    Clock::time_point t0, tp0, tg0;
    bool chat = false;
    RenderedChat rc;
    std::vector<llama_token> prompt;
    size_t next_prompt = 0;        // next prompt token to decode
    common_sampler_ptr smpl;
    bool argmax = false;           // plain greedy: no penalties, biases or grammar, so the largest logit is the token
    std::vector<std::string> stops;
    size_t max_stop = 0;
    std::set<llama_token> preserved;
    common_chat_parser_params pp;
    bool parse_stream = false;
    int max_tokens = -1;
    bool ignore_eos = false;
    std::string policy;
    size_t emitted = 0;
    std::string sent_content, sent_reasoning;
    bool first = true;
    bool prompt_done = false;
    llama_token pending = LLAMA_TOKEN_NULL; // sampled, to be decoded in the next batch
    int logits_idx = -1;                    // where this run's logits are in the batch just decoded
    bool finished = false;
};

// Steps 1-2 and the start of 3: prompt, sampler, prefix reuse. Nothing is decoded here.
static void prepareRun(Context::State & st, GenRun & run) {
    Task & t = *run.task;
    run.t0 = Clock::now();
    const auto t0 = run.t0;
    (void) t0;
    const common_json & req = t.req;
    llama_context * ctx = st.ctx;
    const llama_model * model = st.model->model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    llama_memory_t mem = llama_get_memory(ctx);
    const int seq = t.seq;
    const int n_ctx = (int) llama_n_ctx(ctx);
    const std::string policy = req.value("overflow", std::string("error"));
    run.policy = policy;
    GenResult & r = t.gen;
    // 1. prompt
    const bool chat = req.contains("messages");
    run.chat = chat;
    RenderedChat & rc = run.rc;
    std::vector<llama_token> & prompt = run.prompt;
    if (chat) {
        rc = renderChat(*st.model, req);
        if ((int) rc.tokens.size() >= n_ctx && policy == "truncateMiddle") {
            // drop the oldest turns after the system messages until the prompt fits
            common_json msgs = req.at("messages");
            while ((int) rc.tokens.size() >= n_ctx) {
                common_json kept = common_json::array();
                bool dropped = false;
                for (size_t i = 0; i < msgs.size(); i++) {
                    bool system = msgs[i].value("role", std::string()) == "system";
                    if (!dropped && !system && i + 1 < msgs.size()) { dropped = true; r.droppedMessages++; continue; }
                    kept.push_back(msgs[i]);
                }
                if (!dropped) break;
                msgs = kept;
                rc = renderChat(*st.model, req, &msgs);
            }
        }
        prompt = rc.tokens;
    } else if (req.contains("prompt") && req.at("prompt").is_array()) {
        const common_json & arr = req.at("prompt");
        const int n_vocab = llama_vocab_n_tokens(vocab);
        for (size_t i = 0; i < arr.size(); i++) {
            int tok = arr[i].get<int>();
            if (tok < 0 || tok >= n_vocab) throw HearthError("invalid_argument", "prompt token " + std::to_string(tok) + " is outside the vocabulary");
            prompt.push_back(tok);
        }
    } else {
        if (!req.contains("prompt") || !req.at("prompt").is_string()) throw HearthError("invalid_argument", "a request needs messages, a prompt string or prompt tokens");
        prompt = common_tokenize(vocab, req.at("prompt").get<std::string>(), req.value("addSpecial", true), true);
    }
    if (prompt.empty()) throw HearthError("invalid_argument", "the prompt is empty");
    if ((int) prompt.size() >= n_ctx) {
        if (policy == "shift" || (policy == "truncateMiddle" && !chat)) {
            // keep the start (BOS, system) and the most recent tokens, leave a quarter of the context free
            int n_keep = std::min<int>(n_ctx / 4, (int) prompt.size());
            int n_tail = n_ctx * 3 / 4 - n_keep;
            std::vector<llama_token> cut(prompt.begin(), prompt.begin() + n_keep);
            cut.insert(cut.end(), prompt.end() - n_tail, prompt.end());
            prompt.swap(cut);
            r.shifted = true;
        } else {
            throw HearthError("context_overflow", "the prompt is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                                                      std::to_string(n_ctx) + " (raise the context size, or choose an overflow policy)");
        }
    }
    r.promptTokens = (int) prompt.size();

    // 2. sampler (common sampling chain, grammar from the template, the schema or the caller)
    common_params_sampling sp;
    sp.seed = LLAMA_DEFAULT_SEED;
    fillSampling(sp, req.value("sampling", common_json::object()), llama_vocab_n_tokens(vocab));
    std::vector<std::string> & stops = run.stops;
    if (req.contains("stop") && req.at("stop").is_array()) {
        for (size_t i = 0; i < req.at("stop").size(); i++) {
            std::string s = req.at("stop")[i].get<std::string>();
            if (!s.empty()) stops.push_back(s);
        }
    }
    std::set<llama_token> & preserved = run.preserved;
    if (chat) {
        if (!rc.params.grammar.empty()) {
            common_grammar_type gt = rc.inputs.tools.empty() ? (rc.inputs.json_schema.empty() ? COMMON_GRAMMAR_TYPE_USER : COMMON_GRAMMAR_TYPE_OUTPUT_FORMAT)
                                                             : COMMON_GRAMMAR_TYPE_TOOL_CALLS;
            sp.grammar = {gt, rc.params.grammar};
            sp.grammar_lazy = rc.params.grammar_lazy;
        }
        sp.generation_prompt = rc.params.generation_prompt;
        for (const auto & p : rc.params.preserved_tokens) {
            auto ids = common_tokenize(vocab, p, false, true);
            if (ids.size() == 1) preserved.insert(ids[0]);
        }
        sp.preserved_tokens = preserved;
        for (const auto & trig : rc.params.grammar_triggers) {
            if (trig.type == COMMON_GRAMMAR_TRIGGER_TYPE_WORD) {
                auto ids = common_tokenize(vocab, trig.value, false, true);
                if (ids.size() == 1 && preserved.count(ids[0])) {
                    common_grammar_trigger tt;
                    tt.type = COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN;
                    tt.value = trig.value;
                    tt.token = ids[0];
                    sp.grammar_triggers.push_back(tt);
                    continue;
                }
            }
            sp.grammar_triggers.push_back(trig);
        }
        for (const auto & s : rc.params.additional_stops) stops.push_back(s);
    } else if (req.contains("jsonSchema") && !req.at("jsonSchema").is_null()) {
        try {
            sp.grammar = {COMMON_GRAMMAR_TYPE_OUTPUT_FORMAT, json_schema_to_grammar(req.at("jsonSchema"))};
        } catch (const std::exception & e) {
            throw HearthError("invalid_argument", std::string("jsonSchema: ") + e.what());
        }
    } else if (req.contains("grammar") && req.at("grammar").is_string()) {
        sp.grammar = {COMMON_GRAMMAR_TYPE_USER, req.at("grammar").get<std::string>()};
    }
    common_sampler_ptr & smpl = run.smpl;
    try {
        smpl.reset(common_sampler_init(model, sp));
    } catch (const std::exception & e) {
        throw HearthError("invalid_argument", std::string("llama.cpp could not set up sampling for this request (") + e.what() +
                                                  "); with a grammar or schema, the template's generation prompt must tokenize the way the grammar expects");
    }
    if (!smpl) throw HearthError("invalid_argument", "the grammar or sampling parameters were rejected by llama.cpp");
    run.argmax = sp.temp <= 0.0f && sp.grammar.grammar.empty() && sp.logit_bias.empty() &&
                 (sp.penalty_last_n == 0 || (sp.penalty_repeat == 1.0f && sp.penalty_freq == 0.0f && sp.penalty_present == 0.0f));
    for (auto & s : stops) run.max_stop = std::max(run.max_stop, s.size());

    // 3. reuse the longest common prefix with what this sequence holds
    std::vector<llama_token> & cached = st.seq_tokens[seq];
    size_t n_past = 0;
    while (n_past < cached.size() && n_past < prompt.size() && cached[n_past] == prompt[n_past]) n_past++;
    if (n_past == prompt.size()) n_past--; // the last prompt token is evaluated again for its logits
    if (!llama_memory_seq_rm(mem, seq, (llama_pos) n_past, -1)) {
        llama_memory_seq_rm(mem, seq, -1, -1);
        n_past = 0;
    }
    cached.resize(n_past);
    r.cachedTokens = (int) n_past;
    run.next_prompt = n_past;

    run.max_tokens = req.value("maxTokens", -1);
    run.ignore_eos = req.value("ignoreEos", false);
    if (chat) {
        run.pp = common_chat_parser_params(rc.params);
        run.pp.reasoning_format = rc.inputs.reasoning_format;
        run.pp.parse_tool_calls = !rc.inputs.tools.empty();
        if (!rc.params.parser.empty()) run.pp.parser.load(rc.params.parser);
        // parse only what needs parsing: reasoning (a thinking template) or tool calls; otherwise the
        // reply is the text as generated (a generic parser must never drop text it does not understand)
        run.parse_stream = !rc.inputs.tools.empty() || rc.params.supports_thinking || !rc.params.thinking_start_tag.empty();
    }
    run.tp0 = Clock::now();
}

// The token just sampled: stop strings, streaming, limits, context full. Sets run.pending to decode it
// next, or run.finished.
static void onToken(Context::State & st, GenRun & run, llama_token tok) {
    Task & t = *run.task;
    GenResult & r = t.gen;
    const llama_vocab * vocab = llama_model_get_vocab(st.model->model);
    llama_memory_t mem = llama_get_memory(st.ctx);
    std::vector<llama_token> & cached = st.seq_tokens[t.seq];
    const int n_ctx = (int) llama_n_ctx(st.ctx);
    if (run.first) {
        run.first = false;
        run.tg0 = Clock::now();
        r.ttftMs = msSince(run.t0, run.tg0);
    }
    if (!run.ignore_eos && llama_vocab_is_eog(vocab, tok)) { r.stopReason = "eos"; run.finished = true; return; }
    r.generatedTokens++;
    r.tokens.push_back(tok);
    t.generated.store(r.generatedTokens);
    std::string & text = r.text;
    std::string piece = common_token_to_piece(st.ctx, tok, run.preserved.count(tok) > 0);
    size_t search_from = text.size() > run.max_stop ? text.size() - run.max_stop : 0;
    text += piece;
    bool hit = false;
    if (!run.stops.empty()) {
        size_t best = std::string::npos;
        for (auto & s : run.stops) {
            size_t p = text.find(s, search_from);
            if (p != std::string::npos && p < best) best = p;
        }
        if (best != std::string::npos) { text.resize(best); hit = true; }
    }
    if (!hit) {
        size_t safe = text.size() - std::max(partialStopLen(text, run.stops), incompleteUtf8(text));
        if (safe > run.emitted) {
            if (run.parse_stream) {
                try {
                    common_chat_msg m = common_chat_parse(text.substr(0, safe), true, run.pp);
                    if (m.content.size() > run.sent_content.size() && m.content.compare(0, run.sent_content.size(), run.sent_content) == 0 &&
                        m.reasoning_content.size() >= run.sent_reasoning.size()) {
                        emit(t, m.content.substr(run.sent_content.size()), m.reasoning_content.substr(run.sent_reasoning.size()));
                        run.sent_content = m.content;
                        run.sent_reasoning = m.reasoning_content;
                    } else if (m.reasoning_content.size() > run.sent_reasoning.size() &&
                               m.reasoning_content.compare(0, run.sent_reasoning.size(), run.sent_reasoning) == 0) {
                        emit(t, "", m.reasoning_content.substr(run.sent_reasoning.size()));
                        run.sent_reasoning = m.reasoning_content;
                    }
                } catch (const std::exception &) {
                    // a partial parse can fail mid-token; the next token retries
                }
            } else {
                emit(t, text.substr(run.emitted, safe - run.emitted), "");
            }
            run.emitted = safe;
        }
    }
    if (hit) { r.stopReason = "stop"; run.finished = true; return; }
    if (run.max_tokens >= 0 && r.generatedTokens >= run.max_tokens) { r.stopReason = "length"; run.finished = true; return; }
    if ((int) cached.size() + 1 > n_ctx) {
        if (run.policy == "shift" && llama_memory_can_shift(mem)) {
            int n_keep = llama_vocab_get_add_bos(vocab) ? 1 : 0;
            int n_discard = ((int) cached.size() - n_keep) / 2;
            llama_memory_seq_rm(mem, t.seq, n_keep, n_keep + n_discard);
            llama_memory_seq_add(mem, t.seq, n_keep + n_discard, (llama_pos) cached.size(), -n_discard);
            cached.erase(cached.begin() + n_keep, cached.begin() + n_keep + n_discard);
            r.shifted = true;
        } else {
            r.stopReason = "length";
            r.contextFull = true;
            run.finished = true;
            return;
        }
    }
    run.pending = tok;
}

// Step 5: timings, final parse (content, reasoning, tool calls) and the last held-back text.
static void finishRun(GenRun & run) {
    Task & t = *run.task;
    GenResult & r = t.gen;
    const auto tg1 = Clock::now();
    if (t.abortedAt.load() >= 0) r.tokensAfterAbort = r.generatedTokens - t.abortedAt.load();
    r.genMs = run.first ? 0 : msSince(run.tg0, tg1);
    if (run.first) r.ttftMs = msSince(run.t0, tg1);
    const std::string & text = r.text;
    if (run.chat && run.parse_stream) {
        common_chat_msg m;
        bool ok = true;
        try {
            m = common_chat_parse(text, r.stopReason != "eos" && r.stopReason != "stop", run.pp);
        } catch (const std::exception &) {
            ok = false;
        }
        // a parse that explains none of a non-empty reply is no parse: keep the text
        if (ok && m.content.empty() && m.reasoning_content.empty() && m.tool_calls.empty() && !text.empty()) ok = false;
        if (ok) {
            r.content = m.content;
            r.reasoning = m.reasoning_content;
            r.toolCalls = m.tool_calls;
        } else {
            r.content = text;
        }
        if (run.parse_stream) {
            std::string dc = r.content.size() > run.sent_content.size() && r.content.compare(0, run.sent_content.size(), run.sent_content) == 0
                                 ? r.content.substr(run.sent_content.size()) : "";
            std::string dr = r.reasoning.size() > run.sent_reasoning.size() && r.reasoning.compare(0, run.sent_reasoning.size(), run.sent_reasoning) == 0
                                 ? r.reasoning.substr(run.sent_reasoning.size()) : "";
            emit(t, dc, dr);
        } else if (text.size() > run.emitted) {
            emit(t, text.substr(run.emitted), "");
        }
    } else {
        r.content = text;
        if (text.size() > run.emitted) emit(t, text.substr(run.emitted), "");
    }
}

// The token with the largest logit (the first of equals): what the greedy chain (top-k 1) picks, without
// filling and scanning a candidate array of the whole vocabulary for every token.
static llama_token argmaxToken(Context::State & st, int idx) {
    const float * logits = llama_get_logits_ith(st.ctx, idx);
    const int n = llama_vocab_n_tokens(llama_model_get_vocab(st.model->model));
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (logits[i] > logits[best]) best = i;
    }
    return best;
}

// One decode for every active run: the next prompt chunk of runs still reading their prompt (within
// the batch size), the pending token of runs generating. Then sampling for each run whose logits came.
static void stepRuns(Context::State & st, std::vector<std::unique_ptr<GenRun>> & runs) {
    llama_memory_t mem = llama_get_memory(st.ctx);
    common_batch_clear(st.batch);
    int budget = st.n_batch;
    struct Added { GenRun * run; size_t from, to; bool gen; };
    std::vector<Added> added;
    for (auto & up : runs) {
        GenRun & run = *up;
        run.logits_idx = -1;
        if (run.finished) continue;
        if (run.task->aborted) {
            run.task->gen.stopReason = "aborted";
            run.finished = true;
            continue;
        }
        const int seq = run.task->seq;
        std::vector<llama_token> & cached = st.seq_tokens[seq];
        if (run.next_prompt < run.prompt.size()) {
            if (budget <= 0) continue;
            size_t end = std::min(run.prompt.size(), run.next_prompt + (size_t) budget);
            for (size_t j = run.next_prompt; j < end; j++) {
                common_batch_add(st.batch, run.prompt[j], (llama_pos) j, {seq}, j + 1 == run.prompt.size());
            }
            if (end == run.prompt.size()) run.logits_idx = st.batch.n_tokens - 1;
            added.push_back({&run, run.next_prompt, end, false});
            budget -= (int) (end - run.next_prompt);
        } else if (run.pending != LLAMA_TOKEN_NULL) {
            common_batch_add(st.batch, run.pending, (llama_pos) cached.size(), {seq}, true);
            run.logits_idx = st.batch.n_tokens - 1;
            added.push_back({&run, 0, 0, true});
            budget -= 1;
        }
    }
    if (st.batch.n_tokens == 0) return;
    // llama.cpp's abort callback stops a long prompt midway when its only run is aborted
    st.abort_flag = added.size() == 1 ? &added[0].run->task->aborted : nullptr;
    int rc_dec = llama_decode(st.ctx, st.batch);
    if (rc_dec == 1) {
        // no room in the KV cache for this batch: sequences with nothing running only hold cached
        // prefixes, so drop those and try once more
        bool freed = false;
        for (int s = 0; s < st.n_seq; s++) {
            bool running = false;
            for (auto & a : added) running = running || a.run->task->seq == s;
            if (running || st.seq_tokens[s].empty()) continue;
            llama_memory_seq_rm(mem, s, -1, -1);
            st.seq_tokens[s].clear();
            freed = true;
        }
        if (freed) rc_dec = llama_decode(st.ctx, st.batch);
    }
    st.abort_flag = nullptr;
    if (rc_dec != 0) {
        std::string used;
        for (int s = 0; s < st.n_seq; s++) used += (s ? "," : "") + std::to_string(st.seq_tokens[s].size());
        for (auto & a : added) {
            GenRun & run = *a.run;
            std::vector<llama_token> & cached = st.seq_tokens[run.task->seq];
            llama_memory_seq_rm(mem, run.task->seq, (llama_pos) cached.size(), -1);
            run.finished = true;
            if (run.task->aborted) { run.task->gen.stopReason = "aborted"; continue; }
            run.task->errCode = "decode_failed";
            run.task->errMsg = "llama_decode failed (code " + std::to_string(rc_dec) + "; batch of " + std::to_string(st.batch.n_tokens) +
                               " tokens; sequences hold " + used + " of " + std::to_string(llama_n_ctx(st.ctx)) + ")";
        }
        return;
    }
    for (auto & a : added) {
        GenRun & run = *a.run;
        std::vector<llama_token> & cached = st.seq_tokens[run.task->seq];
        if (a.gen) {
            cached.push_back(run.pending);
            run.pending = LLAMA_TOKEN_NULL;
        } else {
            cached.insert(cached.end(), run.prompt.begin() + a.from, run.prompt.begin() + a.to);
            run.next_prompt = a.to;
            if (run.next_prompt == run.prompt.size()) run.task->gen.promptMs = msSince(run.tp0, Clock::now());
        }
        if (run.logits_idx < 0) continue;
        if (run.task->aborted) {
            run.task->gen.stopReason = "aborted";
            run.finished = true;
            continue;
        }
        llama_token tok = run.argmax ? argmaxToken(st, run.logits_idx) : common_sampler_sample(run.smpl.get(), st.ctx, run.logits_idx);
        common_sampler_accept(run.smpl.get(), tok, true);
        onToken(st, run, tok);
    }
}

// ---- embeddings, sessions (worker thread) ---------------------------------------------------------

static void runEmbed(Context::State & st, Task & t) {
    if (!st.embeddings || llama_pooling_type(st.ctx) == LLAMA_POOLING_TYPE_NONE) {
        throw HearthError("not_supported", "this context was not created for embeddings (create it with embeddings: true on a model with pooling)");
    }
    const llama_model * model = st.model->model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_embd = llama_model_n_embd(model);
    const int n_ctx = (int) llama_n_ctx(st.ctx);
    llama_memory_t mem = llama_get_memory(st.ctx);
    const bool encoder = llama_model_has_encoder(model) && !llama_model_has_decoder(model);
    std::vector<std::vector<llama_token>> toks;
    for (const auto & s : t.texts) {
        toks.push_back(common_tokenize(vocab, s, true, true));
        if (toks.back().empty()) throw HearthError("invalid_argument", "cannot embed an empty text");
        if ((int) toks.back().size() > std::min(st.n_batch, n_ctx)) {
            throw HearthError("context_overflow", "a text of " + std::to_string(toks.back().size()) + " tokens does not fit the batch of " + std::to_string(std::min(st.n_batch, n_ctx)));
        }
    }
    t.embeddings.assign(toks.size(), {});
    size_t i = 0;
    while (i < toks.size()) {
        if (t.aborted) throw HearthError("aborted", "embedding aborted");
        llama_memory_clear(mem, true);
        common_batch_clear(st.batch);
        std::vector<size_t> in_batch;
        int used = 0;
        while (i < toks.size() && (int) in_batch.size() < st.n_seq && used + (int) toks[i].size() <= st.n_batch) {
            int s = (int) in_batch.size();
            for (size_t j = 0; j < toks[i].size(); j++) common_batch_add(st.batch, toks[i][j], (llama_pos) j, {s}, true);
            used += (int) toks[i].size();
            in_batch.push_back(i++);
        }
        int rc = encoder ? llama_encode(st.ctx, st.batch) : llama_decode(st.ctx, st.batch);
        if (rc != 0) throw HearthError("decode_failed", "embedding batch failed (code " + std::to_string(rc) + ")");
        for (size_t s = 0; s < in_batch.size(); s++) {
            const float * e = llama_get_embeddings_seq(st.ctx, (llama_seq_id) s);
            if (!e) throw HearthError("internal", "llama.cpp returned no pooled embedding");
            std::vector<float> out(n_embd);
            common_embd_normalize(e, out.data(), n_embd, 2);
            t.embeddings[in_batch[s]] = std::move(out);
        }
    }
    llama_memory_clear(mem, true);
    for (auto & v : st.seq_tokens) v.clear();
}

static const char SESSION_MAGIC[8] = {'H', 'E', 'A', 'R', 'T', 'H', 'S', '1'};

static std::string sessionHeader(const Context::State & st) {
    return st.model->fingerprint + "|k=" + ggml_type_name(st.type_k) + "|v=" + ggml_type_name(st.type_v);
}

static void runSave(Context::State & st, Task & t) {
    const auto & toks = st.seq_tokens[t.seq];
    if (toks.empty()) throw HearthError("invalid_argument", "sequence " + std::to_string(t.seq) + " is empty: nothing to save");
    size_t size = llama_state_seq_get_size(st.ctx, t.seq);
    std::vector<uint8_t> data(size);
    size_t got = llama_state_seq_get_data(st.ctx, data.data(), size, t.seq);
    if (got == 0) throw HearthError("session_failed", "llama.cpp could not serialize the sequence");
    std::string header = sessionHeader(st);
    std::string tmp = t.path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw HearthError("session_failed", "cannot write " + tmp);
        uint32_t hl = (uint32_t) header.size(), nt = (uint32_t) toks.size();
        uint64_t ds = got;
        f.write(SESSION_MAGIC, 8);
        f.write((const char *) &hl, 4);
        f.write(header.data(), hl);
        f.write((const char *) &nt, 4);
        f.write((const char *) toks.data(), nt * sizeof(llama_token));
        f.write((const char *) &ds, 8);
        f.write((const char *) data.data(), ds);
        if (!f) throw HearthError("session_failed", "write to " + tmp + " failed");
    }
    if (std::rename(tmp.c_str(), t.path.c_str()) != 0) throw HearthError("session_failed", "cannot rename " + tmp + " to " + t.path);
    t.sessionTokens = (int) toks.size();
}

static void runRestore(Context::State & st, Task & t) {
    std::ifstream f(t.path, std::ios::binary);
    if (!f) throw HearthError("session_failed", "cannot open session file " + t.path);
    char magic[8];
    uint32_t hl = 0, nt = 0;
    uint64_t ds = 0;
    f.read(magic, 8);
    if (!f || std::memcmp(magic, SESSION_MAGIC, 8) != 0) throw HearthError("session_failed", t.path + " is not a Hearth session file");
    f.read((char *) &hl, 4);
    if (!f || hl > 65536) throw HearthError("session_failed", t.path + ": corrupt header");
    std::string header(hl, '\0');
    f.read(header.data(), hl);
    if (!f) throw HearthError("session_failed", t.path + ": truncated");
    std::string want = sessionHeader(st);
    if (header != want) {
        throw HearthError("session_mismatch", "the session in " + t.path + " was saved for another model or cache type (" + header + "), not this one (" + want + ")");
    }
    f.read((char *) &nt, 4);
    if (!f || (int) nt > (int) llama_n_ctx(st.ctx)) throw HearthError("session_mismatch", t.path + ": " + std::to_string(nt) + " tokens do not fit this context");
    std::vector<llama_token> toks(nt);
    f.read((char *) toks.data(), nt * sizeof(llama_token));
    f.read((char *) &ds, 8);
    if (!f || ds > (1ull << 40)) throw HearthError("session_failed", t.path + ": truncated");
    std::vector<uint8_t> data(ds);
    f.read((char *) data.data(), ds);
    if (!f) throw HearthError("session_failed", t.path + ": truncated");
    llama_memory_t mem = llama_get_memory(st.ctx);
    llama_memory_seq_rm(mem, t.seq, -1, -1);
    st.seq_tokens[t.seq].clear();
    if (llama_state_seq_set_data(st.ctx, data.data(), ds, t.seq) == 0) {
        llama_memory_seq_rm(mem, t.seq, -1, -1);
        throw HearthError("session_mismatch", t.path + ": llama.cpp rejected the saved state for this context");
    }
    st.seq_tokens[t.seq] = std::move(toks);
    t.sessionTokens = (int) nt;
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
    int evaluated = r.promptTokens - r.cachedTokens;
    tm.Set("promptTps", r.promptMs > 0 ? evaluated * 1000.0 / r.promptMs : 0.0);
    // tokens decoded after the first one was sampled, over the time since (llama-bench's tg measure)
    tm.Set("genTps", r.genMs > 0 && r.generatedTokens > 1 ? (r.generatedTokens - 1) * 1000.0 / r.genMs : 0.0);
    o.Set("timings", tm);
    return o;
}

static void settle(const std::shared_ptr<Task> & task) {
    auto keep = task;
    task->tsfn.BlockingCall([keep](Napi::Env env, Napi::Function) {
        Task & t = *keep;
        if (!t.errCode.empty()) {
            t.deferred->Reject(makeError(env, t.errCode, t.errMsg).Value());
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
    } catch (const HearthError & e) {
        task.errCode = e.code();
        task.errMsg = e.what();
    } catch (const std::exception & e) {
        task.errCode = "internal";
        task.errMsg = e.what();
    }
}

// The task leaves the running set and its promise settles.
static void finishTask(Context::State & st, const std::shared_ptr<Task> & task) {
    {
        std::lock_guard<std::mutex> lock(st.mu);
        st.active.erase(std::remove(st.active.begin(), st.active.end(), task), st.active.end());
    }
    if (task->kind == Task::GENERATE) emit(*task, "", "", true); // what the interval held back
    settle(task);
}

// The worker: generation tasks on free sequences run together (up to `parallel` of them), each step
// one decode for all; any other task (embeddings, sessions, clearing) runs alone, in queue order.
static void workerLoop(std::shared_ptr<Context::State> st) {
    std::vector<std::unique_ptr<GenRun>> runs;
    while (true) {
        std::vector<std::shared_ptr<Task>> admitted;
        std::shared_ptr<Task> solo;
        {
            std::unique_lock<std::mutex> lock(st->mu);
            st->cv.wait(lock, [&] { return st->stopping || !st->queue.empty() || !runs.empty(); });
            if (st->stopping && runs.empty() && st->queue.empty()) return;
            // admit from the front of the queue only: order is kept
            while (!st->queue.empty() && !st->stopping) {
                auto & front = st->queue.front();
                if (front->kind == Task::GENERATE) {
                    if ((int) runs.size() + (int) admitted.size() >= st->n_seq) break;
                    bool busy = false;
                    for (auto & r : runs) busy = busy || r->task->seq == front->seq;
                    for (auto & a : admitted) busy = busy || a->seq == front->seq;
                    if (busy) break;
                    admitted.push_back(front);
                    st->active.push_back(front);
                    st->queue.pop_front();
                } else {
                    if (runs.empty() && admitted.empty()) {
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
        for (auto & task : admitted) {
            auto run = std::make_unique<GenRun>();
            run->task = task;
            recordErrors(*task, [&] {
                if (task->aborted) throw HearthError("aborted", "the request was aborted before it ran");
                prepareRun(*st, *run);
                runs.push_back(std::move(run));
            });
            if (!task->errCode.empty()) finishTask(*st, task);
        }
        if (solo) {
            auto task = solo;
            st->abort_flag = &task->aborted;
            recordErrors(*task, [&] {
                if (task->aborted) throw HearthError("aborted", "the request was aborted before it ran");
                switch (task->kind) {
                    case Task::EMBED: runEmbed(*st, *task); break;
                    case Task::SAVE: runSave(*st, *task); break;
                    case Task::RESTORE: runRestore(*st, *task); break;
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
        } catch (const std::exception & e) {
            for (auto & r : runs) {
                if (r->finished) continue;
                r->finished = true;
                r->task->errCode = "internal";
                r->task->errMsg = e.what();
            }
        }
        for (auto it = runs.begin(); it != runs.end();) {
            GenRun & run = **it;
            if (!run.finished) { ++it; continue; }
            if (run.task->errCode.empty()) finishRun(run);
            finishTask(*st, run.task);
            it = runs.erase(it);
        }
    }
}

// ---- JS side ---------------------------------------------------------------------------------------

Napi::Function Context::Init(Napi::Env env) {
    Napi::Function fn = DefineClass(env, "Context", {
        InstanceMethod("generate", &Context::Generate),
        InstanceMethod("abort", &Context::Abort),
        InstanceMethod("embed", &Context::Embed),
        InstanceMethod("saveSession", &Context::SaveSession),
        InstanceMethod("restoreSession", &Context::RestoreSession),
        InstanceMethod("clearSequence", &Context::ClearSequence),
        InstanceMethod("info", &Context::Info),
        InstanceMethod("memoryBreakdown", &Context::MemoryBreakdown),
        InstanceMethod("dispose", &Context::Dispose),
    });
    constructor = Napi::Persistent(fn);
    constructor.SuppressDestruct();
    return fn;
}

Context::Context(const Napi::CallbackInfo & info) : Napi::ObjectWrap<Context>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
        throw Napi::TypeError::New(info.Env(), "Context cannot be constructed directly: use createContext()");
    }
    state_ = *info[0].As<Napi::External<std::shared_ptr<State>>>().Data();
    state_->worker = std::thread(workerLoop, state_);
}

Context::~Context() { shutdown(); }

void Context::shutdown() {
    if (!state_) return;
    std::deque<std::shared_ptr<Task>> dropped;
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        state_->stopping = true;
        dropped.swap(state_->queue);
        for (auto & t : state_->active) t->aborted = true;
    }
    state_->cv.notify_all();
    for (auto & t : dropped) {
        t->errCode = "disposed";
        t->errMsg = "the context was disposed before the request ran";
        settle(t);
    }
    if (state_->worker.joinable()) state_->worker.join();
    state_.reset();
}

llama_context_params parseContextParams(const Napi::Object & o, const llama_model * model) {
    llama_context_params cp = llama_context_default_params();
    uint32_t n_ctx_train = model ? (uint32_t) std::max(0, llama_model_n_ctx_train(model)) : 0;
    cp.n_ctx = optUint(o, "contextSize", std::min<uint32_t>(4096, n_ctx_train ? n_ctx_train : 4096), 0, 1u << 24);
    cp.n_batch = optUint(o, "batchSize", 2048, 1, 1u << 20);
    cp.n_ubatch = optUint(o, "ubatchSize", 512, 1, 1u << 20);
    if (cp.n_ubatch > cp.n_batch) throw HearthError("invalid_argument", "ubatchSize must not exceed batchSize");
    int def_threads = common_cpu_get_num_math();
    cp.n_threads = (int32_t) optUint(o, "threads", def_threads, 1, 1024);
    cp.n_threads_batch = (int32_t) optUint(o, "threadsBatch", cp.n_threads, 1, 1024);
    cp.n_seq_max = optUint(o, "parallel", 1, 1, 256);
    std::string fa = optString(o, "flashAttention", "auto");
    if (fa == "auto") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    else if (fa == "on") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    else if (fa == "off") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    else throw HearthError("invalid_argument", "flashAttention must be auto, on or off");
    cp.type_k = parseCacheType(optString(o, "cacheTypeK", "f16"), "cacheTypeK");
    cp.type_v = parseCacheType(optString(o, "cacheTypeV", "f16"), "cacheTypeV");
    if (cp.type_v != GGML_TYPE_F16 && cp.type_v != GGML_TYPE_F32 && cp.type_v != GGML_TYPE_BF16 && fa == "off") {
        throw HearthError("invalid_argument", "a quantized V cache (cacheTypeV) needs flash attention (auto or on)");
    }
    cp.embeddings = optBool(o, "embeddings", false);
    // parallel slots share one KV buffer, so one long conversation can use the whole context; a single
    // sequence needs no sharing, and a unified cache makes llama.cpp check every batch against all 256
    // possible sequences (a 256 x 256 loop per decode, ~0.5% of generation time)
    cp.kv_unified = cp.n_seq_max > 1;
    cp.no_perf = false;
    return cp;
}

Napi::Value Context::Create(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Model::constructor.Value())) {
        throw makeError(env, "invalid_argument", "createContext(model, params): model must be a Model");
    }
    Model * m = Model::Unwrap(info[0].As<Napi::Object>());
    Napi::Object o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    auto st = std::make_shared<State>();
    llama_context_params cp;
    try {
        st->model = m->requireHandle();
        cp = parseContextParams(o, st->model->model);
    } catch (const HearthError & e) {
        throw makeError(env, e.code(), e.what());
    }
    cp.abort_callback = abortCallback;
    cp.abort_callback_data = st.get();
    st->n_batch = (int) cp.n_batch;
    st->n_seq = (int) cp.n_seq_max;
    st->embeddings = cp.embeddings;
    st->type_k = cp.type_k;
    st->type_v = cp.type_v;
    st->flash_attn = cp.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_ENABLED ? "on" : cp.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_DISABLED ? "off" : "auto";
    st->threads = cp.n_threads;
    st->threads_batch = cp.n_threads_batch;
    return AsyncTask::run(env,
        [st, cp]() {
            st->ctx = llama_init_from_model(st->model->model, cp);
            if (!st->ctx) throw HearthError("context_failed", "llama.cpp could not create a context of " + std::to_string(cp.n_ctx) + " tokens (out of memory, or unsupported parameters; see the engine log)");
            st->batch = llama_batch_init(st->n_batch, 0, std::max(1, st->n_seq));
            st->seq_tokens.assign(st->n_seq, {});
        },
        [st](Napi::Env env) -> Napi::Value {
            auto * ext = new std::shared_ptr<State>(st);
            auto external = Napi::External<std::shared_ptr<State>>::New(env, ext, [](Napi::Env, std::shared_ptr<State> * p) { delete p; });
            return constructor.New({external});
        });
}

Napi::Promise Context::enqueue(Napi::Env env, std::shared_ptr<Task> task, Napi::Value onEvent) {
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
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
    if (std::floor(s) != s || s < 0 || s >= n_seq) throw HearthError("invalid_argument", "seq must be an integer in [0, " + std::to_string(n_seq) + ")");
    return (int) s;
}

// generate(requestJson, onEvent) -> Promise<result>; the request's "id" names it for abort(id)
Napi::Value Context::Generate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, "invalid_argument", "generate(requestJson, onEvent?): a JSON string is required");
    auto task = std::make_shared<Task>();
    task->kind = Task::GENERATE;
    task->req = common_json::parse_no_throw(info[0].As<Napi::String>().Utf8Value());
    if (task->req.is_discarded() || !task->req.is_object()) throw makeError(env, "invalid_argument", "generate: the request is not a JSON object");
    try {
        task->id = task->req.value("id", (uint64_t) 0);
        int s = task->req.value("seq", 0);
        if (s < 0 || s >= state_->n_seq) throw HearthError("invalid_argument", "seq must be in [0, " + std::to_string(state_->n_seq) + ")");
        task->seq = s;
    } catch (const HearthError & e) {
        throw makeError(env, e.code(), e.what());
    } catch (const std::exception & e) {
        throw makeError(env, "invalid_argument", e.what());
    }
    return enqueue(env, task, info.Length() > 1 ? info[1] : env.Undefined());
}

// abort(id) -> "queued" | "running" | "unknown"
Napi::Value Context::Abort(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) return Napi::String::New(env, "unknown");
    uint64_t id = (uint64_t) info[0].ToNumber().Int64Value();
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
                t->abortedAt = t->generated.load();
                t->aborted = true;
                where = "running";
            }
        }
    }
    if (dropped) {
        dropped->errCode = "aborted";
        dropped->errMsg = "the request was aborted before it ran";
        settle(dropped);
    }
    return Napi::String::New(env, where);
}

Napi::Value Context::Embed(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw makeError(env, "invalid_argument", "embed(texts): texts must be an array of strings");
    auto task = std::make_shared<Task>();
    task->kind = Task::EMBED;
    Napi::Array arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
        if (!arr.Get(i).IsString()) throw makeError(env, "invalid_argument", "embed(texts): texts must be strings");
        task->texts.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
    return enqueue(env, task, env.Undefined());
}

// saveSession(path, {seq}?) and restoreSession(path, {seq}?): a task on the sequence's file
Napi::Value Context::sessionTask(const Napi::CallbackInfo & info, int kind, const char * name) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, "invalid_argument", std::string(name) + "(path, {seq}?)");
    auto task = std::make_shared<Task>();
    task->kind = (Task::Kind) kind;
    task->path = info[0].As<Napi::String>().Utf8Value();
    try { task->seq = seqArg(info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env), state_->n_seq); }
    catch (const HearthError & e) { throw makeError(env, e.code(), e.what()); }
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
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
    auto task = std::make_shared<Task>();
    task->kind = Task::CLEAR;
    try { task->seq = seqArg(info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env), state_->n_seq); }
    catch (const HearthError & e) { throw makeError(env, e.code(), e.what()); }
    return enqueue(env, task, env.Undefined());
}

Napi::Value Context::Info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
    Napi::Object o = Napi::Object::New(env);
    o.Set("contextSize", (double) llama_n_ctx(state_->ctx));
    o.Set("batchSize", (double) llama_n_batch(state_->ctx));
    o.Set("ubatchSize", (double) llama_n_ubatch(state_->ctx));
    o.Set("parallel", state_->n_seq);
    o.Set("threads", state_->threads);
    o.Set("threadsBatch", state_->threads_batch);
    o.Set("cacheTypeK", ggml_type_name(state_->type_k));
    o.Set("cacheTypeV", ggml_type_name(state_->type_v));
    o.Set("flashAttention", state_->flash_attn);
    o.Set("embeddings", state_->embeddings);
    Napi::Array seqs = Napi::Array::New(env, state_->n_seq);
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        // seq_tokens is only resized at creation; sizes may be mid-update but never invalid
        for (int i = 0; i < state_->n_seq; i++) seqs.Set((uint32_t) i, (double) state_->seq_tokens[i].size());
    }
    o.Set("sequenceTokens", seqs);
    return o;
}

// memoryBreakdown() -> llama.cpp's own accounting of what this model + context allocated, per device
Napi::Value Context::MemoryBreakdown(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!state_) throw makeError(env, "disposed", "the context was disposed");
    return memoryBreakdownToJs(env, state_->model->model, state_->ctx);
}

Napi::Value Context::Dispose(const Napi::CallbackInfo & info) {
    shutdown();
    return info.Env().Undefined();
}

} // namespace hearth
