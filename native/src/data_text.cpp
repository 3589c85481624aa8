#include "data_text.h"

#include <algorithm>
#include <cctype>

namespace hearth {

static constexpr size_t npos = std::string_view::npos;
static constexpr std::string_view WORD_JOINER = "\xE2\x81\xA0"; // U+2060

std::vector<SpecialText> splitSpecials(const llama_vocab * vocab) {
    std::vector<SpecialText> out;
    const int n = llama_vocab_n_tokens(vocab);
    for (llama_token id = 0; id < n; id++) {
        const int attr = llama_vocab_get_attr(vocab, id);
        if (!(attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN))) continue;
        // every token has a text: llama.cpp names an empty one "[EMPTY_<id>]" as it loads the vocab
        out.push_back({id, std::string_view(llama_vocab_get_text(vocab, id)), (attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_UNKNOWN)) != 0,
                       (attr & LLAMA_TOKEN_ATTR_LSTRIP) != 0, (attr & LLAMA_TOKEN_ATTR_RSTRIP) != 0});
    }
    // llama.cpp's own sort (llama_vocab::impl::load) over the same ids in the same order (std::sort is not
    // stable: the order of texts of one length follows from the whole sequence it sorts)
    std::sort(out.begin(), out.end(), [](const SpecialText & a, const SpecialText & b) { return a.text.size() > b.text.size(); });
    return out;
}

static bool isSpace(char c) {
    return std::isspace((unsigned char) c) != 0;
}

bool overlaps(const std::vector<TextSpan> & spans, size_t b, size_t e) {
    auto it = std::upper_bound(spans.begin(), spans.end(), b, [](size_t x, const TextSpan & s) { return x < s.e; });
    return it != spans.end() && it->b < e;
}

void cutAtSpecials(const std::vector<SpecialText> & specials, std::string_view text, std::vector<TextPiece> & out, const std::vector<TextSpan> * kept) {
    // as llama.cpp's tokenizer_st_partition: each special text in turn, the longest first, cuts every run of
    // text still uncut where it occurs, left to right; a token marked lstrip (rstrip) drops the whitespace
    // of the run to its left (right), before the shorter ones are looked for. An occurrence overlapping
    // a kept span is passed over.
    struct Cut {
        size_t b, e;
        int sp; // -1: the text [b, e)
    };
    std::vector<Cut> cuts{{0, text.size(), -1}}, next;
    for (size_t si = 0; si < specials.size(); si++) {
        const SpecialText & s = specials[si];
        bool any = false;
        for (size_t ci = 0; ci < cuts.size(); ci++) {
            const Cut & c = cuts[ci];
            size_t from = c.b;
            if (c.sp < 0 && c.e - c.b >= s.text.size()) {
                const std::string_view frag = text.substr(0, c.e);
                for (size_t at = frag.find(s.text, from); at != npos; at = frag.find(s.text, at + 1)) {
                    if (kept && overlaps(*kept, at, at + s.text.size())) continue;
                    if (!any) next.assign(cuts.begin(), cuts.begin() + (long) ci); // the cuts before this one stay as they are
                    any = true;
                    size_t left = at;
                    if (s.lstrip) while (left > from && isSpace(text[left - 1])) left--;
                    if (left > from) next.push_back({from, left, -1});
                    next.push_back({at, at + s.text.size(), (int) si});
                    from = at + s.text.size();
                    if (s.rstrip) while (from < c.e && isSpace(text[from])) from++;
                    if (from >= c.e) break;
                    at = from - 1; // the next search starts at `from`
                }
            }
            if (!any) continue;
            if (from == c.b) next.push_back(c);
            else if (from < c.e) next.push_back({from, c.e, -1});
        }
        if (any) std::swap(cuts, next);
    }
    for (const Cut & c : cuts) {
        if (c.sp < 0) {
            out.push_back({false, std::string(text.substr(c.b, c.e - c.b))});
        } else {
            const SpecialText & s = specials[(size_t) c.sp];
            out.push_back({true, {}, s.id, s.lstrip, s.rstrip});
        }
    }
}

std::vector<llama_token> tokenizePieces(const llama_vocab * vocab, const std::vector<TextPiece> & pieces, bool add_special) {
    std::vector<llama_token> out;
    // what llama.cpp's tokenize adds with add_special, by the vocab's kind (llama_vocab::impl::tokenize)
    llama_token first = LLAMA_TOKEN_NULL, last = LLAMA_TOKEN_NULL;
    if (add_special) {
        switch (llama_vocab_type(vocab)) {
            case LLAMA_VOCAB_TYPE_SPM:
            case LLAMA_VOCAB_TYPE_BPE:
            case LLAMA_VOCAB_TYPE_UGM:
                if (llama_vocab_get_add_bos(vocab)) first = llama_vocab_bos(vocab);
                if (llama_vocab_get_add_eos(vocab)) last = llama_vocab_eos(vocab);
                break;
            case LLAMA_VOCAB_TYPE_WPM:
                first = llama_vocab_bos(vocab);
                last = llama_vocab_sep(vocab);
                break;
            default: break;
        }
    }
    if (first != LLAMA_TOKEN_NULL) out.push_back(first);
    std::string run;
    bool strip_left = false; // the run follows a token marked rstrip
    auto flush = [&](bool strip_right) {
        size_t b = 0, e = run.size();
        if (strip_left) while (b < e && isSpace(run[b])) b++;
        if (strip_right) while (e > b && isSpace(run[e - 1])) e--;
        if (e > b) {
            const auto toks = common_tokenize(vocab, run.substr(b, e - b), false, false);
            out.insert(out.end(), toks.begin(), toks.end());
        }
        run.clear();
    };
    for (const TextPiece & p : pieces) {
        if (!p.token) {
            run += p.text;
            continue;
        }
        flush(p.lstrip);
        out.push_back(p.id);
        strip_left = p.rstrip;
    }
    flush(false);
    if (last != LLAMA_TOKEN_NULL) out.push_back(last);
    return out;
}

namespace {

// `s` without its marks, and where the text of each well-formed pair of them is in the result (an open
// followed by a close before any other open); a mark without its pair is dropped. One pass.
std::string unmark(std::string_view s, std::vector<TextSpan> & spans) {
    std::string out;
    out.reserve(s.size());
    size_t open = s.find(DATA_OPEN), close = s.find(DATA_CLOSE);
    size_t i = 0;
    while (true) {
        if (open != npos && open < i) open = s.find(DATA_OPEN, i);
        if (close != npos && close < i) close = s.find(DATA_CLOSE, i);
        const size_t next = std::min(open, close);
        if (next == npos) break;
        out.append(s.substr(i, next - i));
        if (next == close) { // a close without an open
            i = close + DATA_CLOSE.size();
            continue;
        }
        const size_t after = open + DATA_OPEN.size();
        const size_t open2 = s.find(DATA_OPEN, after);
        if (close == npos || open2 < close) { // an open without its close
            i = after;
            continue;
        }
        spans.push_back({out.size(), out.size() + (close - after)});
        out.append(s.substr(after, close - after));
        i = close + DATA_CLOSE.size();
    }
    out.append(s.substr(i));
    return out;
}

bool charStart(std::string_view s, size_t q) {
    return q >= s.size() || ((unsigned char) s[q] & 0xC0) != 0x80;
}

// One pass of markedText: where a joiner goes (before the character at each position), for every
// occurrence of `list`'s texts that overlaps a span: the first character boundary inside the occurrence
// that is within the span or at its edge.
std::vector<size_t> joinerPlaces(const std::vector<const SpecialText *> & list, std::string_view text, const std::vector<TextSpan> & spans) {
    std::vector<size_t> at;
    for (const SpecialText * sp : list) {
        const size_t len = sp->text.size();
        if (len < 2) continue; // no boundary inside it
        for (size_t p = text.find(sp->text); p != npos; p = text.find(sp->text, p + 1)) {
            auto it = std::upper_bound(spans.begin(), spans.end(), p, [](size_t x, const TextSpan & s) { return x < s.e; });
            for (; it != spans.end() && it->b < p + len; ++it) {
                size_t q = std::max(p + 1, it->b);
                const size_t last = std::min(p + len - 1, it->e);
                while (q <= last && !charStart(text, q)) q++;
                if (q <= last) {
                    at.push_back(q);
                    break;
                }
            }
        }
    }
    std::sort(at.begin(), at.end());
    at.erase(std::unique(at.begin(), at.end()), at.end());
    return at;
}

} // namespace

// data_text.h. A joiner goes inside each occurrence of `list`'s texts that overlaps marked text, within
// it; repeated while one remains (a vocab could hold the rest of a broken text as a token of its own).
std::string markedText(const std::vector<const SpecialText *> & list, const std::string & prompt, std::vector<TextSpan> & spans) {
    std::string text = unmark(prompt, spans);
    for (int pass = 0; pass < 8 && !spans.empty(); pass++) {
        const std::vector<size_t> at = joinerPlaces(list, text, spans);
        if (at.empty()) break;
        std::string out;
        out.reserve(text.size() + at.size() * WORD_JOINER.size());
        size_t from = 0;
        for (const size_t q : at) {
            out.append(text, from, q - from);
            out.append(WORD_JOINER);
            from = q;
        }
        out.append(text, from, npos);
        // a span holds the joiners at its edges: its start moves by those before it, its end by those up to it
        for (TextSpan & s : spans) {
            s.b += WORD_JOINER.size() * (size_t) (std::lower_bound(at.begin(), at.end(), s.b) - at.begin());
            s.e += WORD_JOINER.size() * (size_t) (std::upper_bound(at.begin(), at.end(), s.e) - at.begin());
        }
        text = std::move(out);
    }
    return text;
}

std::vector<const SpecialText *> structuralTokens(const std::vector<SpecialText> & specials, const std::string & templates) {
    std::vector<const SpecialText *> out;
    for (const SpecialText & s : specials) {
        if (s.parsed_only) continue;
        const bool blank = std::all_of(s.text.begin(), s.text.end(), [](char c) { return isSpace(c); });
        if (!blank && templates.find(s.text) != npos) out.push_back(&s);
    }
    return out;
}

bool hasMarks(const std::string & prompt) {
    return prompt.find(DATA_OPEN) != npos || prompt.find(DATA_CLOSE) != npos;
}

std::string withoutMarks(std::string_view s) {
    std::vector<TextSpan> spans;
    return unmark(s, spans);
}

bool loneMarks(std::string_view prompt) {
    size_t marks = 0;
    for (auto m : {DATA_OPEN, DATA_CLOSE}) {
        for (size_t p = prompt.find(m); p != npos; p = prompt.find(m, p + m.size())) marks++;
    }
    std::vector<TextSpan> spans;
    unmark(prompt, spans);
    return marks != 2 * spans.size();
}


std::vector<llama_token> tokenizeSpecial(const llama_vocab * vocab, const std::vector<SpecialText> & specials, std::string_view text, bool add_special,
                                         const std::vector<TextSpan> * kept) {
    std::vector<TextPiece> pieces;
    cutAtSpecials(specials, text, pieces, kept);
    return tokenizePieces(vocab, pieces, add_special);
}

std::vector<llama_token> tokenizeMarked(const llama_vocab * vocab, const std::vector<SpecialText> & specials, const std::vector<const SpecialText *> & guarded,
                                        const std::string & prompt, bool add_special) {
    std::vector<TextSpan> spans;
    const std::string text = markedText(guarded, prompt, spans);
    return tokenizeSpecial(vocab, specials, text, add_special, &spans);
}

std::string breakMarked(const std::vector<SpecialText> & specials, const std::vector<const SpecialText *> & guarded, const std::string & prompt) {
    std::vector<const SpecialText *> list(guarded);
    for (const SpecialText & s : specials) {
        if (s.parsed_only) list.push_back(&s);
    }
    std::vector<TextSpan> spans;
    return markedText(list, prompt, spans);
}

} // namespace hearth
