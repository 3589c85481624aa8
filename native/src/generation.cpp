#include "generation.h"

#include <algorithm>
#include <cmath>

#include "data_text.h"
#include "infill.h"
#include "json-schema-to-grammar.h"
#include "params.h"
#include "util.h"

namespace hearth {

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
// that call takes everything buffered. So JS, the host's IPC and the app wake at most ~10 times a
// second however fast tokens come: with every core decoding, each wake-up takes a turn from a decoding
// thread, and both wait at the next barrier (docs/benchmarks.md: at 50 ms, 3% of a 250 tok/s model's speed
// on 2 cores; at 100 ms, none measurable). Ten updates a second still read as streaming.
// finishTask() flushes what is left (`now`) before the result settles.
static constexpr auto kEmitInterval = std::chrono::milliseconds(100);
void emit(Task & t, const std::string & content, const std::string & reasoning, bool now) {
    std::lock_guard<std::mutex> lock(t.out_mu);
    t.out_content += content;
    t.out_reasoning += reasoning;
    if (t.out_content.empty() && t.out_reasoning.empty() && t.out_probs.empty()) return;
    if (t.out_scheduled) return;
    const auto tnow = Clock::now();
    if (!now && tnow - t.last_emit < kEmitInterval) return;
    t.last_emit = tnow;
    t.out_scheduled = true;
    Task * task = &t; // alive until settle(), whose call is queued after this one
    t.tsfn.NonBlockingCall([task](Napi::Env env, Napi::Function fn) {
        std::string c, r;
        std::vector<TokenProbs> p;
        {
            std::lock_guard<std::mutex> lock(task->out_mu);
            c.swap(task->out_content);
            r.swap(task->out_reasoning);
            p.swap(task->out_probs);
            task->out_scheduled = false;
        }
        if (c.empty() && r.empty() && p.empty()) return;
        Napi::Object o = Napi::Object::New(env);
        if (!c.empty()) o.Set("content", c);
        if (!r.empty()) o.Set("reasoning", r);
        if (!p.empty()) o.Set("probs", probsToJs(env, p));
        if (fn) fn.Call({o});
    });
}

// ---- the slot's phases: every transition (worker thread) --------------------------------------------

static const char * stateName(SlotState s) {
    switch (s) {
        case SlotState::Waiting: return "waiting";
        case SlotState::Prompt: return "prompt";
        case SlotState::PromptDone: return "prompt done";
        case SlotState::Generating: return "generating";
        case SlotState::Ended: return "ended";
        case SlotState::Done: return "done";
    }
    return "?";
}

void GenRun::moveTo(SlotState to) {
    const bool live = state_ == SlotState::Waiting || state_ == SlotState::Prompt || state_ == SlotState::PromptDone ||
                      state_ == SlotState::Generating;
    bool ok = false;
    switch (to) {
        case SlotState::Waiting: break;
        case SlotState::Prompt: ok = state_ == SlotState::Waiting || state_ == SlotState::Prompt; break;
        case SlotState::PromptDone: ok = state_ == SlotState::Prompt; break;
        case SlotState::Generating: ok = state_ == SlotState::PromptDone || state_ == SlotState::Generating; break;
        case SlotState::Ended: ok = live; break;
        case SlotState::Done: ok = state_ == SlotState::Ended; break;
    }
    if (!ok) throw HearthError(codes::internal, std::string("generation: no move from ") + stateName(state_) + " to " + stateName(to));
    state_ = to;
}

void GenRun::startPrompt(size_t n_past) {
    moveTo(SlotState::Prompt);
    next_prompt_ = n_past;
    tp0 = Clock::now();
}

void GenRun::promptDecoded(size_t to) {
    moveTo(to == prompt.size() ? SlotState::PromptDone : SlotState::Prompt);
    // as llama-server does once a prompt is in: the penalties (repeat, frequency, presence, DRY) see the
    // conversation, not only the reply (the grammar is not fed the prompt). Plain greedy sampling reads
    // the logits alone (argmax), so its chain has nothing to learn from the prompt
    if (to == prompt.size() && smpl && !argmax) {
        for (llama_token t : prompt) {
            if (!isImageToken(t)) common_sampler_accept(smpl.get(), t, false); // an image's positions are no tokens
        }
    }
    task->prompted.fetch_add((int) (to - next_prompt_));
    next_prompt_ = to;
    if (to == prompt.size()) task->gen.promptMs = msSince(tp0, Clock::now());
}

void GenRun::sampled(llama_token tok) {
    moveTo(SlotState::Generating);
    pending = tok;
}

void GenRun::stop(const char * reason) {
    moveTo(SlotState::Ended);
    task->gen.stopReason = reason;
}

void GenRun::fail(Code code, const std::string & msg) {
    moveTo(SlotState::Ended);
    task->error = Failure{code, msg};
}

void GenRun::done() {
    moveTo(SlotState::Done);
}

// ---- generation (worker thread) -------------------------------------------------------------------

void prepareRun(Context::State & st, GenRun & run) {
    Task & t = *run.task;
    run.t0 = Clock::now();
    const common_json & req = t.req;
    llama_context * ctx = st.ctx;
    const llama_model * model = st.model->model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    llama_memory_t mem = llama_get_memory(ctx);
    const int seq = t.seq;
    const int n_ctx = (int) llama_n_ctx(ctx);
    // a model that keeps no cache (an encoder-only embedder, a diffusion model) writes no logits through
    // llama_decode (it runs its encoder) (encoder-decoder models are refused at load: weight_types.h)
    if (!mem) throw HearthError(codes::not_supported, "this model keeps no cache (an encoder-only embedding model, or a diffusion model): Hearth writes no replies with it; an embedding model is used for embeddings");
    const RequestParams opts = parseRequest(req);
    const std::string policy = opts.overflow;
    run.policy = policy;
    GenResult & r = t.gen;
    // 1. prompt
    const bool chat = req.contains("messages");
    run.chat = chat;
    RenderedChat & rc = run.rc;
    std::vector<llama_token> & prompt = run.prompt;
    if (chat) {
        if (st.seq_prompts.size() < (size_t) st.n_seq) st.seq_prompts.resize(st.n_seq);
        PromptMemo * memo = &st.seq_prompts[seq];
        rc = renderChat(*st.model, req, nullptr, memo);
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
                r.tokenizedTokens += (int) (rc.tokens.size() - rc.reused);
                rc = renderChat(*st.model, req, &msgs, memo);
            }
        }
        prompt = rc.tokens;
        r.tokenizedTokens += (int) (rc.tokens.size() - rc.reused);
    } else if (req.contains("prompt") && req.at("prompt").is_array()) {
        const common_json & arr = req.at("prompt");
        const int n_vocab = llama_vocab_n_tokens(vocab);
        for (size_t i = 0; i < arr.size(); i++) {
            int tok = arr[i].get<int>();
            if (tok < 0 || tok >= n_vocab) throw HearthError(codes::invalid_argument, "prompt token " + std::to_string(tok) + " is outside the vocabulary");
            prompt.push_back(tok);
        }
    } else if (req.contains("infill")) {
        prompt = infillPrompt(vocab, req.at("infill"), st.n_batch, n_ctx, opts.max_tokens);
        r.tokenizedTokens = (int) prompt.size();
    } else {
        if (!req.contains("prompt") || !req.at("prompt").is_string()) throw HearthError(codes::invalid_argument, "a request needs messages, a prompt string or prompt tokens");
        prompt = tokenizeSpecial(vocab, specialsOf(*st.model), req.at("prompt").get<std::string>(), req.value("addSpecial", true));
        r.tokenizedTokens = (int) prompt.size();
    }
    if (prompt.empty()) throw HearthError(codes::invalid_argument, "the prompt is empty");
    // the last prompt token's logits give the first token: text, never an image's position
    if (isImageToken(prompt.back())) throw HearthError(codes::invalid_argument, "the prompt ends with an image: add text after it");
    // what a context shift keeps: BOS and nKeep tokens after it, as llama-server counts its n_keep
    // (-1: the whole prompt), else the system prompt of a chat, else BOS
    if (policy == "shift") {
        if (opts.n_keep_given) run.n_keep = opts.n_keep < 0 ? (int) prompt.size() : opts.n_keep + (llama_vocab_get_add_bos(vocab) ? 1 : 0);
        else run.n_keep = chat ? systemPromptTokens(*st.model, req, rc) : std::min<int>(llama_vocab_get_add_bos(vocab) ? 1 : 0, (int) prompt.size());
    }
    if ((int) prompt.size() >= n_ctx) {
        if (rc.media) {
            // cutting the prompt's tokens could cut an image in two
            throw HearthError(codes::context_overflow, "the prompt with its images is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                                                      std::to_string(n_ctx) + " (raise the context size)");
        }
        if (policy == "shift" || (policy == "truncateMiddle" && !chat)) {
            // keep the start (nKeep or a chat's system prompt if it takes at most half the context, else a
            // quarter of the context) and the most recent tokens, leave a quarter of the context free
            int n_keep = (chat || opts.n_keep_given) && run.n_keep <= n_ctx / 2 ? run.n_keep : n_ctx / 4;
            n_keep = std::min<int>(n_keep, (int) prompt.size());
            int n_tail = n_ctx * 3 / 4 - n_keep;
            std::vector<llama_token> cut(prompt.begin(), prompt.begin() + n_keep);
            cut.insert(cut.end(), prompt.end() - n_tail, prompt.end());
            prompt.swap(cut);
            if (policy == "shift") run.n_keep = n_keep; // what later shifts keep too
            r.shifted = true;
        } else {
            throw HearthError(codes::context_overflow, "the prompt is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                                                      std::to_string(n_ctx) + " (raise the context size, or choose an overflow policy)");
        }
    }
    r.promptTokens = (int) prompt.size();
    run.max_tokens = (int) std::min<int64_t>(opts.max_tokens, INT32_MAX);
    if (run.max_tokens == 0) {
        // nothing to generate: the request ends here, the sequence's cache untouched
        run.stop("length");
        return;
    }

    // 2. sampler (common sampling chain, grammar from the template, the schema or the caller)
    common_params_sampling sp = parseSampling(req.value("sampling", common_json::object()));
    std::vector<std::string> & stops = run.stops;
    stops = opts.stop;
    std::set<llama_token> & preserved = run.preserved;
    if (chat) {
        if (!rc.params.grammar.empty()) {
            common_grammar_type gt = rc.inputs.tools.empty() ? (rc.inputs.json_schema.empty() ? COMMON_GRAMMAR_TYPE_USER : COMMON_GRAMMAR_TYPE_OUTPUT_FORMAT)
                                                             : COMMON_GRAMMAR_TYPE_TOOL_CALLS;
            sp.grammar = {gt, rc.params.grammar};
            sp.grammar_lazy = rc.params.grammar_lazy;
        } else if (!opts.grammar.empty()) {
            // the caller's own grammar, where the template's rendering did not carry it (its format has no
            // place for one): as llama-server, which samples a chat request with the request's grammar
            sp.grammar = {COMMON_GRAMMAR_TYPE_USER, opts.grammar};
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
        // the thinking tags, where the template has them (as llama-server): with a budget, the budget
        // sampler counts the tokens after the start tag and then forces the first end tag; with a lazy
        // grammar (tools), budget or not, it keeps the grammar out of the thinking (common_sampler_init
        // makes one then), so a call marker the model thinks about does not start a call inside it
        if (!rc.params.thinking_start_tag.empty() && !rc.params.thinking_end_tags.empty()) {
            sp.reasoning_budget_tokens = opts.reasoning_budget;
            sp.reasoning_budget_start = common_tokenize(vocab, rc.params.thinking_start_tag, false, true);
            for (const auto & tag : rc.params.thinking_end_tags) sp.reasoning_budget_end.push_back(common_tokenize(vocab, tag, false, true));
            sp.reasoning_budget_forced = sp.reasoning_budget_end.front();
        }
    } else if (!opts.json_schema.is_null()) {
        try {
            sp.grammar = {COMMON_GRAMMAR_TYPE_OUTPUT_FORMAT, json_schema_to_grammar(opts.json_schema)};
        } catch (const std::exception & e) {
            throw HearthError(codes::invalid_argument, std::string("jsonSchema: ") + e.what());
        }
    } else if (!opts.grammar.empty()) {
        sp.grammar = {COMMON_GRAMMAR_TYPE_USER, opts.grammar};
    }
    run.smpl.reset(buildSampler(model, sp, n_ctx));
    run.argmax = isPlainGreedy(model, sp);
    run.n_probs = sp.n_probs;
    for (auto & s : stops) run.max_stop = std::max(run.max_stop, s.size());

    // 3. reuse the longest common prefix with what this sequence holds
    std::vector<llama_token> & cached = st.seq_tokens[seq];
    // a prefix computed under another LoRA set is not this request's (adapters.h)
    if (st.seq_lora[seq] != t.lora_key) cached.clear();
    st.seq_lora[seq] = t.lora_key;
    size_t n_past = 0;
    while (n_past < cached.size() && n_past < prompt.size() && cached[n_past] == prompt[n_past]) n_past++;
    if (n_past == prompt.size()) n_past--; // the last prompt token is evaluated again for its logits
    // an image is reused whole or not at all (its embeddings are decoded together)
    if (rc.media) {
        if (const auto * img = rc.media->covering(n_past)) n_past = img->first;
    }
    // sliding-window layers keep only the last window of positions without a full cache (swaFull off), and
    // with one after a restore (llama.cpp saves no masked cell): a prefix is reusable only while they still
    // hold the window before it (as llama-server checks)
    const int n_swa = llama_model_n_swa(model);
    if (n_past > 0 && n_swa > 0) {
        const llama_pos pos_min = llama_memory_seq_pos_min(mem, seq);
        if (pos_min > std::max<llama_pos>(0, (llama_pos) n_past - n_swa)) n_past = 0;
    }
    if (!llama_memory_seq_rm(mem, seq, (llama_pos) n_past, -1)) {
        llama_memory_seq_rm(mem, seq, -1, -1);
        n_past = 0;
    }
    cached.resize(n_past);
    r.cachedTokens = (int) n_past;

    run.ignore_eos = opts.ignore_eos;
    if (chat) {
        run.pp = common_chat_parser_params(rc.params);
        run.pp.reasoning_format = rc.inputs.reasoning_format;
        run.pp.parse_tool_calls = !rc.inputs.tools.empty();
        if (!rc.params.parser.empty()) run.pp.parser.load(rc.params.parser);
        // parse only what needs parsing: reasoning (a thinking template), tool calls, or a JSON schema's
        // reply (llama.cpp's grammar lets the model fence it in ```json … ```: the parser keeps the JSON);
        // otherwise the reply is the text as generated (a generic parser must never drop text it does not understand)
        run.parse_stream = !rc.inputs.tools.empty() || !rc.inputs.json_schema.empty() || rc.params.supports_thinking || !rc.params.thinking_start_tag.empty();
        // a continued reply: the parse reads the generation prompt, which llama.cpp ends with that reply's
        // text, before the new text; what it makes of that text alone was written before this request and
        // is neither streamed nor returned again (as llama-server without echo)
        if (run.parse_stream && rc.inputs.continue_final_message != COMMON_CHAT_CONTINUATION_NONE) {
            try {
                common_chat_msg base = common_chat_parse("", true, run.pp);
                // a partial parse holds back a tail that may begin a tag ("</thi"), which the caller already has
                // in the reply: its own text is the baseline where it goes on from the parse's
                const common_chat_msg & given = rc.inputs.messages.back();
                auto longer = [](std::string & b, const std::string & own) {
                    if (own.size() > b.size() && own.compare(0, b.size(), b) == 0) b = own;
                };
                longer(base.content, withoutMarks(given.content));
                longer(base.reasoning_content, withoutMarks(given.reasoning_content));
                run.prefill_content = run.sent_content = base.content;
                run.prefill_reasoning = run.sent_reasoning = base.reasoning_content;
            } catch (const std::exception &) {
                // no parse of the reply alone: the new text's parse is compared from the start
            }
        }
    }
    run.startPrompt(n_past);
}

// The token just sampled: stop strings, streaming, limits. The run goes on Generating with the token
// pending (room in the KV cache is made when the next batch is planned), or stops.
void onToken(Context::State & st, GenRun & run, llama_token tok) {
    Task & t = *run.task;
    GenResult & r = t.gen;
    const llama_vocab * vocab = llama_model_get_vocab(st.model->model);
    if (run.state() == SlotState::PromptDone) { // its first token
        run.tg0 = Clock::now();
        r.ttftMs = msSince(run.t0, *run.tg0);
    }
    if (!run.ignore_eos && llama_vocab_is_eog(vocab, tok)) { run.stop("eos"); return; }
    r.generatedTokens++;
    r.tokens.push_back(tok);
    if (run.n_probs > 0) recordProbs(t, std::move(run.probs));
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
                    common_chat_msg m = common_chat_parse(validUtf8(text.substr(0, safe)), true, run.pp);
                    const bool reasoning_on = m.reasoning_content.size() >= run.sent_reasoning.size();
                    // a continued reply's reasoning that ended in a tag's start ("</thi", already the caller's)
                    // ends before it once the tag is whole: the text after the tag streams all the same
                    const bool reasoning_ended = !reasoning_on && !run.prefill_reasoning.empty() && run.sent_reasoning == run.prefill_reasoning &&
                                                 run.sent_reasoning.compare(0, m.reasoning_content.size(), m.reasoning_content) == 0;
                    if (m.content.size() > run.sent_content.size() && m.content.compare(0, run.sent_content.size(), run.sent_content) == 0 &&
                        (reasoning_on || reasoning_ended)) {
                        emit(t, m.content.substr(run.sent_content.size()), reasoning_on ? m.reasoning_content.substr(run.sent_reasoning.size()) : "");
                        run.sent_content = m.content;
                        if (reasoning_on) run.sent_reasoning = m.reasoning_content;
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
    if (hit) { run.stop("stop"); return; }
    if (run.max_tokens >= 0 && r.generatedTokens >= run.max_tokens) { run.stop("length"); return; }
    run.sampled(tok);
}

// Step 5, Ended -> Done: timings, final parse (content, reasoning, tool calls) and the last held-back
// text; a run that failed gets none of it (its request gets the error).
void finishRun(GenRun & run) {
    Task & t = *run.task;
    GenResult & r = t.gen;
    run.done();
    if (t.error) return;
    const auto tg1 = Clock::now();
    if (t.abortedAt.load() >= 0) r.tokensAfterAbort = r.generatedTokens - t.abortedAt.load();
    if (t.promptedAt.load() >= 0) r.promptTokensAfterAbort = t.prompted.load() - t.promptedAt.load();
    r.genMs = run.tg0 ? msSince(*run.tg0, tg1) : 0;
    if (!run.tg0) r.ttftMs = msSince(run.t0, tg1);
    const std::string & text = r.text;
    if (run.chat && run.parse_stream) {
        common_chat_msg m;
        bool ok = true;
        try {
            m = common_chat_parse(validUtf8(text), r.stopReason != "eos" && r.stopReason != "stop", run.pp);
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
            // the reply's own text is not this reply's: what the new text adds to it, or nothing where the
            // parse ends within it (a tag's start it ended with made whole)
            for (auto [part, prefill] : {std::pair{&r.content, &run.prefill_content}, std::pair{&r.reasoning, &run.prefill_reasoning}}) {
                if (prefill->empty()) continue;
                if (part->compare(0, prefill->size(), *prefill) == 0) part->erase(0, prefill->size());
                else if (prefill->compare(0, part->size(), *part) == 0) part->clear();
            }
        } else if (text.size() > run.emitted) {
            emit(t, text.substr(run.emitted), "");
        }
    } else {
        r.content = text;
        if (text.size() > run.emitted) emit(t, text.substr(run.emitted), "");
    }
}

} // namespace hearth
