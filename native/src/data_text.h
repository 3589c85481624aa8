// Text that is data, not instructions: a document's passage, a tool's result, what the model wrote in
// an earlier turn. Special-token text in it ("<|im_end|>", "</s>") stays text when the prompt around it
// is tokenized with special tokens parsed, as the template's own tokens must be. Also the pieces
// llama.cpp's tokenizer cuts a text into, which reranking's templates use (embed.cpp).
//
// In a chat request with `dataMarks`, text between U+FDD0 and U+FDD1 (two Unicode noncharacters;
// main/params/data-text.ts writes them) in a message's content, reasoning or calls' arguments is data,
// and so are the descriptions in the request's tools (chat_marks.h settles them). The marks go through
// the chat template with the text (what the template does to the text stays inside them) and never
// reach the model: they are removed as the rendered prompt is tokenized (here).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat.h" // common_json
#include "common.h"
#include "llama.h"

namespace hearth {

inline constexpr std::string_view DATA_OPEN = "\xEF\xB7\x90";  // U+FDD0
inline constexpr std::string_view DATA_CLOSE = "\xEF\xB7\x91"; // U+FDD1

// A token llama.cpp's tokenizer splits out of a text before tokenizing the rest (its
// cache_special_tokens: control, user-defined and unknown tokens).
struct SpecialText {
    llama_token id;
    std::string_view text;  // points into the vocab, which lives as long as the model
    bool parsed_only;       // control or unknown: split out only when special tokens are parsed
    bool lstrip, rstrip;    // whitespace beside it is dropped
};

// The vocab's special texts in the order llama.cpp's tokenizer splits them out: the longest first.
std::vector<SpecialText> splitSpecials(const llama_vocab * vocab);

// A text cut as llama.cpp's tokenizer cuts one (tokenizer_st_partition): runs of text and the special
// tokens between them.
struct TextPiece {
    bool token = false;
    std::string text;                     // a run of text
    llama_token id = LLAMA_TOKEN_NULL;    // a token
    bool lstrip = false, rstrip = false;  // a token's
};

// Where a text lies in another: [b, e).
struct TextSpan {
    size_t b, e;
};

// Appends `text` cut at every special text in it (special tokens parsed) to `out`; an occurrence that
// overlaps one of the `kept` spans (sorted, apart) is not cut.
void cutAtSpecials(const std::vector<SpecialText> & specials, std::string_view text, std::vector<TextPiece> & out, const std::vector<TextSpan> * kept = nullptr);

// The pieces' tokens: each run of text between two tokens (consecutive text pieces together) tokenized
// as text, whitespace stripped beside a token marked so; with `add_special`, what the vocab adds at the
// start and end of a text. For pieces that cutAtSpecials made of one text, exactly
// common_tokenize(text, add_special, true): llama.cpp also tokenizes each run between two special
// tokens on its own.
std::vector<llama_token> tokenizePieces(const llama_vocab * vocab, const std::vector<TextPiece> & pieces, bool add_special);

// common_tokenize(vocab, text, add_special, true), the same tokens (cutAtSpecials, then tokenizePieces),
// in time linear in the special tokens the text holds: llama.cpp's partition walks its list of pieces
// from the start for each special token it cuts out (std::distance over a forward_list), quadratic in
// them (a prompt of 200,000 special tokens took it minutes). With `kept` (markedText's spans), no special
// text overlapping one is cut: tokenizeMarked's tokens of the marked text.
std::vector<llama_token> tokenizeSpecial(const llama_vocab * vocab, const std::vector<SpecialText> & specials, std::string_view text, bool add_special,
                                         const std::vector<TextSpan> * kept = nullptr);

// `s` without its marks.
std::string withoutMarks(std::string_view s);

// The user-defined special texts that a chat's templates (their sources, `templates`) use, whitespace
// aside: those a tokenizing of marked text must break up (llama.cpp splits user-defined tokens out of
// any text, even tokenized as text). Others, such as Gemma's runs of spaces and HTML tags, are text
// anywhere and are left as they are.
std::vector<const SpecialText *> structuralTokens(const std::vector<SpecialText> & specials, const std::string & templates);

// Whether `prompt` holds a mark without its pair (one a template cut from its text), which tokenizing drops.
bool loneMarks(std::string_view prompt);

// Whether a rendered prompt holds marks (a pair, or one alone, which is dropped): to tokenize with
// tokenizeMarked (or breakMarked).
bool hasMarks(const std::string & prompt);

// Whether [b, e) overlaps one of `spans` (sorted, apart).
bool overlaps(const std::vector<TextSpan> & spans, size_t b, size_t e);

// A rendered prompt's text as tokenizeMarked tokenizes it: the marks removed, each of `list`'s special
// texts (tokenizeMarked's `guarded`) that occurs in marked text or across its edges broken up by a U+2060
// (word joiner) inside it; `kept`: where the marked text is in the result (sorted, apart). tokenizeMarked
// then tokenizes the pieces of cutAtSpecials(result, &kept).
std::string markedText(const std::vector<const SpecialText *> & list, const std::string & prompt, std::vector<TextSpan> & kept);

// A rendered prompt's tokens (special tokens parsed, `add_special` as common_tokenize's) with the
// text between marks tokenized as text: never cut at a special token, nor one across its edges. Each
// of the `guarded` user-defined texts (structuralTokens) that occurs in it or across its edges is broken
// up by a U+2060 (word joiner) inside it. The marks removed (markedText, then tokenizeSpecial).
std::vector<llama_token> tokenizeMarked(const llama_vocab * vocab, const std::vector<SpecialText> & specials, const std::vector<const SpecialText *> & guarded,
                                        const std::string & prompt, bool add_special);

// The prompt without marks, where each control or unknown special text, and each of the `guarded`
// user-defined ones, that occurs in marked text or across its edges is broken up by a U+2060 (word
// joiner) inside it: for a tokenizer that only parses a whole text (mtmd's, with images).
std::string breakMarked(const std::vector<SpecialText> & specials, const std::vector<const SpecialText *> & guarded, const std::string & prompt);

} // namespace hearth
