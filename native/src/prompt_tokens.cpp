// Tokenizing a prompt that extends the previous one (prompt_tokens.h).
//
// llama.cpp tokenizes a text with special tokens parsed (src/llama-vocab.cpp, llama_vocab::impl::tokenize)
// in two stages. First the text is partitioned: every special token's text (control, user-defined and
// unknown tokens), longest first, is split out of the raw text wherever it occurs (a token marked
// lstrip/rstrip also drops the whitespace beside it). Then each raw piece is tokenized on its own, by a
// fresh tokenizer session: SentencePiece (SPM) prefixes the piece with a space when the vocab says so
// and merges the best-scoring pairs of symbols whose text is a vocab token; BPE splits the piece with its
// pre-tokenizer's regex and merges inside each word. So the tokens of `text` are the tokens of
// text[0, c) followed by those of text[c, end) (or of what stands for it) at a cut c where
//   - a special token's occurrence ends (both vocab types), no other special text overlaps it or
//     spans c, the token does not strip the whitespace after it, and it neither starts nor ends with
//     whitespace (another token's strip would eat into it); the rest is tokenized from c;
//   - or (SPM that prefixes pieces with a space) at a space inside raw text between two non-spaces,
//     with no special text within reach and no vocab token's text spanning the space, so no merge
//     crosses it; the rest is tokenized from c + 1, whose space prefix is that very space.
// Those are checked on the previous text and the new one (the conditions read only characters on both
// sides of c). Then the previous tokens must end with the previous text's rest, tokenized alone (a
// check that would catch a mistake in the above: the reused count comes from it), and the new rest
// is tokenized and appended to the previous tokens before it. Any other case is a whole tokenize.
//
// A prompt with data marks is tokenized as the text markedText gives (marks removed, guarded texts
// broken up) with no special text cut inside its marked spans (`kept`); the same cuts hold there, with
// the texts compared only as far as both have the same spans, and no cut after a special token's text
// that overlaps marked text (it is text there). A space is cut as before: the tokens of marked text are
// those of the same text unmarked where no special text is near.
#include "prompt_tokens.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common.h"
#include "data_text.h"
#include "llama_gate.h"
#include "util.h"

namespace hearth {

struct PromptCuts {
    bool usable = false;   // an SPM ("llama") or BPE ("gpt2") tokenizer that adds no EOS
    bool raw_cuts = false; // SPM that prefixes each raw piece with a space: cuts at spaces inside text
    std::shared_ptr<const std::vector<SpecialText>> specials; // the model's (specialsOf): what a tokenize with special tokens parsed splits out
    std::unordered_map<llama_token, size_t> special_of; // a special token's id -> its entry in specials
    size_t max_special = 0;
    std::unordered_set<std::string_view> texts; // SPM: every token's text, as its merges match them
    size_t max_text = 0;
};

static const std::string_view kSpace = "\xe2\x96\x81"; // SPM's escaped space (U+2581)

static std::shared_ptr<const PromptCuts> readCuts(const ModelHandle & h) {
    auto cuts = std::make_shared<PromptCuts>();
    const llama_model * model = h.model;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    char buf[64] = {0};
    const std::string kind = llama_model_meta_val_str(model, "tokenizer.ggml.model", buf, sizeof(buf)) >= 0 ? buf : "";
    const enum llama_vocab_type type = llama_vocab_type(vocab);
    const bool spm = type == LLAMA_VOCAB_TYPE_SPM && kind == "llama";
    const bool bpe = type == LLAMA_VOCAB_TYPE_BPE && kind == "gpt2";
    cuts->usable = (spm || bpe) && !llama_vocab_get_add_eos(vocab);
    specialsOf(h);
    cuts->specials = h.specials;
    if (!cuts->usable) return cuts;
    for (size_t i = 0; i < cuts->specials->size(); i++) {
        const SpecialText & sp = (*cuts->specials)[i];
        cuts->special_of[sp.id] = i;
        cuts->max_special = std::max(cuts->max_special, sp.text.size());
    }
    const int n = spm ? llama_vocab_n_tokens(vocab) : 0;
    for (llama_token id = 0; id < n; id++) {
        // the texts point into the vocab, which lives as long as the model (and so this)
        const char * t = llama_vocab_get_text(vocab, id);
        if (t && *t) {
            cuts->texts.insert(std::string_view(t));
            cuts->max_text = std::max(cuts->max_text, std::strlen(t));
        }
    }
    if (spm) {
        // whether the vocab prefixes a raw piece with a space (tokenizer.ggml.add_space_prefix): "a" alone
        // then comes out as tokens whose text starts with SPM's space
        const std::vector<llama_token> a = common_tokenize(vocab, "a", false, false);
        cuts->raw_cuts = !a.empty() && std::string_view(llama_vocab_get_text(vocab, a[0])).substr(0, kSpace.size()) == kSpace;
    }
    if (!cuts->raw_cuts) cuts->texts.clear();
    return cuts;
}

static bool isSpace(char c) {
    return std::isspace((unsigned char) c) != 0;
}

// No special text occurs in s overlapping [from, to) other than `self` exactly there (from == to: none
// spans `to`, or touches the position).
static bool noSpecialNear(const PromptCuts & cuts, std::string_view s, size_t from, size_t to, std::string_view self) {
    for (const SpecialText & sp : *cuts.specials) {
        const size_t len = sp.text.size();
        const size_t lo = from + 1 > len ? from + 1 - len : 0; // an occurrence starting at lo or later ends after from
        const size_t hi = std::min(s.size(), to + len - 1);    // and one starting before `to` ends by hi
        if (lo >= hi) continue;
        const std::string_view window = s.substr(lo, hi - lo);
        for (size_t p = window.find(sp.text); p != std::string_view::npos; p = window.find(sp.text, p + 1)) {
            if (lo + p == from && sp.text == self && from + self.size() == to) continue;
            return false;
        }
    }
    return true;
}

// A special token's occurrence ends at `end` in s, and cutting there keeps the tokens on either side.
static bool specialCut(const PromptCuts & cuts, std::string_view s, size_t end, const SpecialText & sp) {
    const std::string_view t = sp.text;
    if (sp.rstrip || isSpace(t.front()) || isSpace(t.back()) || end < t.size() || end > s.size()) return false;
    if (s.compare(end - t.size(), t.size(), t) != 0) return false;
    return noSpecialNear(cuts, s, end - t.size(), end, t);
}

// SPM: a space at c between two non-spaces, no special text within reach, and no vocab token's text
// spanning it (so no merge crosses it). Reads s[c - max_text - 1, c + max_text + 1].
static bool rawCut(const PromptCuts & cuts, std::string_view s, size_t c) {
    if (c == 0 || c + 1 >= s.size() || s[c] != ' ' || isSpace(s[c - 1]) || isSpace(s[c + 1])) return false;
    // no special text over the space or its neighbours: none spans the cut, and none strips the space
    if (!noSpecialNear(cuts, s, c - 1, c + 2, std::string_view())) return false;
    // the text around c as the tokenizer's session has it: spaces escaped
    const size_t lo = c - std::min(c, cuts.max_text);
    const size_t hi = std::min(s.size(), c + 1 + cuts.max_text);
    std::string esc;
    size_t at = 0; // where c's space starts in esc
    for (size_t i = lo; i < hi; i++) {
        if (i == c) at = esc.size();
        if (s[i] == ' ') esc += kSpace;
        else esc += s[i];
    }
    const std::string_view e(esc);
    // a token's text across the boundary before the space: [a, b) with a < at < b
    for (size_t a = at + 1 > cuts.max_text ? at + 1 - cuts.max_text : 0; a < at; a++) {
        for (size_t b = at + 1; b <= e.size() && b - a <= cuts.max_text; b++) {
            if (cuts.texts.count(e.substr(a, b - a))) return false;
        }
    }
    return true;
}

// How far back from the common prefix's end a cut is looked for: a message or two of a conversation.
static constexpr size_t kCutReach = 2048;

const std::vector<SpecialText> & specialsOf(const ModelHandle & h) {
    std::call_once(h.specials_once, [&] { h.specials = std::make_shared<const std::vector<SpecialText>>(splitSpecials(llama_model_get_vocab(h.model))); });
    return *h.specials;
}

// How far two texts that agree up to `common` also agree in where their marked text is: to the first
// span of one that the other lacks, if it starts before `common`.
static size_t sameKept(const std::vector<TextSpan> & a, const std::vector<TextSpan> & b, size_t common) {
    for (size_t i = 0;; i++) {
        const size_t ab = i < a.size() ? a[i].b : std::string::npos, bb = i < b.size() ? b[i].b : std::string::npos;
        if (std::min(ab, bb) >= common) return common;
        if (ab != bb || a[i].e != b[i].e) return std::min(ab, bb);
    }
}

// The spans of marked text at or after `from`, as positions in text.substr(from).
static std::vector<TextSpan> keptFrom(const std::vector<TextSpan> & kept, size_t from) {
    std::vector<TextSpan> out;
    for (const TextSpan & s : kept) {
        if (s.e > from) out.push_back({std::max(s.b, from) - from, s.e - from});
    }
    return out;
}

std::vector<llama_token> tokenizePrompt(const ModelHandle & h, const std::string & text, const std::vector<TextSpan> & kept, PromptMemo & memo, size_t * reused,
                                        bool check) {
    const llama_vocab * vocab = llama_model_get_vocab(h.model);
    const std::vector<SpecialText> & specials = specialsOf(h);
    std::call_once(h.prompt_cuts_once, [&] { h.prompt_cuts = readCuts(h); });
    const PromptCuts & cuts = *h.prompt_cuts;
    if (reused) *reused = 0;
    std::vector<llama_token> out;
    const std::string_view now(text), before(memo.text);
    size_t common = 0;
    const size_t most = std::min(now.size(), before.size());
    while (common < most && now[common] == before[common]) common++;
    common = sameKept(kept, memo.kept, common);

    // the cut furthest along: `at` where the tokens split, `from` where the rest's text starts
    size_t at = 0, from = 0;
    if (cuts.usable && !memo.tokens.empty() && common > 0) {
        const size_t reach = common > kCutReach ? common - kCutReach : 0;
        // a special cut is where the previous text's partition split a special token out: only the special
        // tokens among the previous tokens can give one
        std::vector<bool> seen(cuts.specials->size(), false);
        for (llama_token t : memo.tokens) {
            auto it = cuts.special_of.find(t);
            if (it != cuts.special_of.end()) seen[it->second] = true;
        }
        const std::string_view window = now.substr(reach, common - reach);
        for (size_t i = 0; i < cuts.specials->size(); i++) {
            const SpecialText & sp = (*cuts.specials)[i];
            if (!seen[i] || sp.text.size() > window.size()) continue;
            const size_t p = window.rfind(sp.text);
            if (p == std::string_view::npos) continue;
            const size_t end = reach + p + sp.text.size();
            // (the two texts' marked text lies alike up to `common`: one's spans say it for both)
            if (end > at && !overlaps(kept, end - sp.text.size(), end) && specialCut(cuts, now, end, sp) && specialCut(cuts, before, end, sp)) {
                at = from = end;
            }
        }
        if (cuts.raw_cuts) {
            // both texts agree up to `common`: a cut whose reach ends before it is read once
            const size_t margin = std::max(cuts.max_text, cuts.max_special) + 2;
            for (size_t c = common > margin ? common - margin : 0, tries = 0; c > std::max(at, reach) && tries < 64; c--) {
                if (now[c] != ' ') continue;
                tries++;
                if (rawCut(cuts, now, c)) {
                    at = c;
                    from = c + 1;
                    break;
                }
            }
        }
    }
    if (at > 0) {
        const std::vector<TextSpan> kept_before = keptFrom(memo.kept, from);
        const std::vector<llama_token> rest_before = tokenizeSpecial(vocab, specials, std::string_view(memo.text).substr(from), false, &kept_before);
        const size_t n = memo.tokens.size();
        if (rest_before.size() <= n && std::equal(rest_before.begin(), rest_before.end(), memo.tokens.end() - rest_before.size())) {
            const size_t keep = n - rest_before.size();
            const std::vector<TextSpan> kept_now = keptFrom(kept, from);
            const std::vector<llama_token> rest = tokenizeSpecial(vocab, specials, std::string_view(text).substr(from), false, &kept_now);
            out.reserve(keep + rest.size());
            out.assign(memo.tokens.begin(), memo.tokens.begin() + keep);
            out.insert(out.end(), rest.begin(), rest.end());
            if (reused) *reused = keep;
        }
    }
    const bool partly = !out.empty();
    if (!partly) out = tokenizeSpecial(vocab, specials, text, true, &kept);
    // the test hooks hold the result to llama.cpp's own tokenize (a text with marked text: to its own whole tokenize)
    if (check && out != (kept.empty() ? common_tokenize(vocab, text, true, true) : tokenizeSpecial(vocab, specials, text, true, &kept))) {
        throw HearthError(codes::internal, partly ? "prompt tokens: the tokens reused from the previous prompt differ from a whole tokenize" : "prompt tokens: the tokens differ from llama.cpp's tokenize");
    }
    memo.text = text;
    memo.kept = kept;
    memo.tokens = out;
    return out;
}

static Napi::Value PromptTokens(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Model::constructor.Value()) || !info[1].IsString() ||
        !info[2].IsString()) {
        throw makeError(env, codes::invalid_argument, "promptTokens(model, previousText, text): a Model and two strings");
    }
    std::shared_ptr<ModelHandle> h = Model::Unwrap(info[0].As<Napi::Object>())->requireHandle();
    LlamaUse use(LlamaUseKind::js); // llama.cpp may log while it tokenizes (llama_gate.h)
    const std::vector<SpecialText> & specials = specialsOf(*h);
    const char * tmpl = llama_model_chat_template(h->model, nullptr);
    const std::vector<const SpecialText *> guarded = structuralTokens(specials, tmpl ? tmpl : "");
    // a text as the chat renderer tokenizes it: with marks, their text and spans (chat_render.cpp)
    auto read = [&](const Napi::Value & v, std::vector<TextSpan> & kept) {
        const std::string s = v.As<Napi::String>().Utf8Value();
        return hasMarks(s) ? markedText(guarded, s, kept) : s;
    };
    PromptMemo memo;
    memo.text = read(info[1], memo.kept);
    memo.tokens = tokenizeSpecial(llama_model_get_vocab(h->model), specials, memo.text, true, &memo.kept);
    std::vector<TextSpan> kept;
    const std::string text = read(info[2], kept);
    size_t reused = 0;
    const std::vector<llama_token> toks = tokenizePrompt(*h, text, kept, memo, &reused);
    Napi::Array arr = Napi::Array::New(env, toks.size());
    for (size_t i = 0; i < toks.size(); i++) arr.Set((uint32_t) i, toks[i]);
    Napi::Object o = Napi::Object::New(env);
    o.Set("tokens", arr);
    o.Set("reused", (double) reused);
    return o;
}

static Napi::Value MarkedTokens(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(Model::constructor.Value()) || !info[1].IsString()) {
        throw makeError(env, codes::invalid_argument, "markedTokens(model, text): a Model and a string");
    }
    std::shared_ptr<ModelHandle> h = Model::Unwrap(info[0].As<Napi::Object>())->requireHandle();
    LlamaUse use(LlamaUseKind::js);
    const llama_vocab * vocab = llama_model_get_vocab(h->model);
    const std::vector<SpecialText> & specials = specialsOf(*h);
    const char * tmpl = llama_model_chat_template(h->model, nullptr);
    const std::vector<llama_token> toks = tokenizeMarked(vocab, specials, structuralTokens(specials, tmpl ? tmpl : ""), info[1].As<Napi::String>().Utf8Value(), true);
    Napi::Array arr = Napi::Array::New(env, toks.size());
    for (size_t i = 0; i < toks.size(); i++) arr.Set((uint32_t) i, toks[i]);
    return arr;
}

void addPromptTokenExports(Napi::Env env, Napi::Object exports) {
    exports.Set("promptTokens", Napi::Function::New(env, guard<PromptTokens>));
    exports.Set("markedTokens", Napi::Function::New(env, guard<MarkedTokens>));
}

} // namespace hearth
