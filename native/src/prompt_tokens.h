// Tokenizing a prompt that extends the previous one: a chat's follow-up turn renders the whole
// conversation again, and most of it is text the sequence's previous request already tokenized.
// Where llama.cpp's own tokenizer rules show that the tokens of the common text cannot depend on what
// follows it, only what follows is tokenized; anywhere else the whole text is.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "llama.h"
#include "data_text.h"
#include "model.h"

namespace hearth {

// A text, where its marked text is (`kept`: data_text.h markedText's spans; none without marks), and its
// whole tokenization (special tokens added, and parsed outside `kept`, as a chat prompt is tokenized).
struct PromptMemo {
    std::string text;
    std::vector<TextSpan> kept;
    std::vector<llama_token> tokens;
};

// What llama.cpp's tokenizer rules need to know of a vocab, read once per model (ModelHandle::prompt_cuts).
struct PromptCuts;

// The model's special texts, as data_text.h's splitSpecials reads them, read once per model.
const std::vector<SpecialText> & specialsOf(const ModelHandle & h);

// data_text.h tokenizeSpecial(vocab, specials, text, true, &kept) (without `kept`, the tokens of
// common_tokenize(vocab, text, true, true)), reusing `memo`'s where a cut is safe (see
// prompt_tokens.cpp); `memo` then holds `text`, `kept` and the tokens. `reused`: how many tokens came
// from the memo (0: a whole tokenize). With `check` the result is compared with a whole tokenize
// (llama.cpp's, for a text without marked text), and a difference throws HearthError(internal) (the
// test hooks turn it on).
std::vector<llama_token> tokenizePrompt(const ModelHandle & h, const std::string & text, const std::vector<TextSpan> & kept, PromptMemo & memo,
                                        size_t * reused = nullptr, bool check = false);

// addon.promptTokens(model, previousText, text) -> { tokens, reused }: text's tokens as a chat prompt's
// (special tokens added and parsed; data marks in either text read as data_text.h's, guarded by the
// model's own template) after previousText's, and how many were reused; and
// addon.markedTokens(model, text) -> tokens: a rendered prompt's with data marks (data_text.h
// tokenizeMarked), tokenized whole; for the tests.
void addPromptTokenExports(Napi::Env env, Napi::Object exports);

} // namespace hearth
